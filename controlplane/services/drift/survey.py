"""Observing drift: what the desired state says against what runs, as observations; reads only."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from controlplane.domain.drift import (
    INFRASTRUCTURE,
    DesiredService,
    DriftItem,
    classify,
    from_release,
    infrastructure_drift,
)
from controlplane.domain.findings import DriftFinding, FindingStatus, Remedy, finding_id
from controlplane.domain.manifest import Release
from controlplane.errors import NotFound, PermanentError, TransientError
from controlplane.ports import Catalog, Compute, Deployments, DesiredState, Provisioner, Quarantine
from controlplane.services.deployments import services_in_flight

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    """One divergence as observed now, with the desired release that would repair it."""

    item: DriftItem
    tier: str
    release: Release | None

    @property
    def finding_id(self) -> str:
        return finding_id(self.item.environment, self.item.service, self.item.fingerprint())

    def initial_status(self) -> FindingStatus:
        auto = self.item.remedy is Remedy.AUTO and self.tier != "prod"
        return FindingStatus.APPROVED if auto else FindingStatus.OPEN


@dataclass(frozen=True)
class Survey:
    """What the desired state says and what runs: the observations and the services that were compared."""

    revision: str
    observations: list[Observation]
    compared: frozenset[tuple[str, str]]

    def resolves(self, finding: DriftFinding, seen: set[str]) -> bool:
        """Whether ``finding`` is gone: still waiting (Open or Approved), its service compared, not seen."""
        waiting = finding.status in (FindingStatus.OPEN, FindingStatus.APPROVED)
        return waiting and finding.id not in seen and (finding.environment, finding.service) in self.compared


def survey(
    catalog: Catalog,
    deployments: Deployments,
    quarantine: Quarantine,
    desired: DesiredState,
    compute: Compute,
    provisioner: Provisioner | None = None,
) -> Survey:
    """Observe every environment the desired state declares (and, with a provisioner, its infrastructure
    against its stack); reads only."""
    revision = desired.revision()
    observations: list[Observation] = []
    compared: set[tuple[str, str]] = set()
    for environment in desired.environments():
        releases = desired.releases(environment)
        by_service: dict[str, Release] = {}
        specs: dict[str, DesiredService] = {}
        promoted = {entry.service: entry.revision for entry in catalog.list_catalog(environment)}
        for release in releases:  # in apply order: a later release of a service wins
            for spec in from_release(release):
                specs[spec.service] = replace(spec, revision=promoted.get(spec.service))
                by_service[spec.service] = release
        tier = releases[-1].spec.environment.tier if releases else "nonprod"
        busy = services_in_flight(deployments, environment)
        live = compute.inventory(environment)
        quarantined = frozenset(q.key for q in quarantine.quarantined(environment))
        compared.update((environment, s) for s in {*specs, *(w.service for w in live)} - busy)
        for item in classify(specs.values(), live, quarantined):
            if item.service not in busy:
                observations.append(Observation(item, tier, by_service.get(item.service)))
        if provisioner is not None:
            infrastructure = infrastructure_drift(environment, _drifted(provisioner, environment))
            compared.add((environment, INFRASTRUCTURE))
            if infrastructure is not None:
                observations.append(Observation(infrastructure, tier, None))
    return Survey(revision, observations, frozenset(compared))


def _drifted(provisioner: Provisioner, environment: str) -> list[str]:
    """The environment's drifted resources; an environment never provisioned or a failing check has none
    to report this run (a failing check is logged, and the next run tries again)."""
    try:
        return provisioner.drift(environment)
    except NotFound:
        return []
    except (TransientError, PermanentError) as error:
        log.warning("drift: cannot check the infrastructure of %s: %s", environment, error)
        return []
