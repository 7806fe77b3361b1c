"""RuntimeDriftDetectionService: compare live with desired state, keep findings, start and settle remedies.

One drift run (the singleton ``drift`` orchestration) calls, in order:

1. ``scan``: observe every environment of the desired state, turn each divergence into a finding (a new
   one emits RuntimeDriftDetected; a known one is only touched), resolve findings no longer observed, and
   return the findings approved for remediation.
2. ``start_remediation`` per approved finding: a corrective deployment (one service, RollingHealthGated,
   in the finding's trace), or for an approved unmanaged workload, its removal.
3. ``settle`` once the corrective deployment ended: Remediated (and RuntimeDriftRemediated) or
   RemediationFailed.

Policy: auto-remediable drift in a non-prod environment is approved on detection; in prod, and for every
review-required finding, an operator approves or dismisses it. Infrastructure that drifted from its stack
(the Provisioner's preview-only refresh) is reported as a review-required finding of the environment; its
repair is ``pulumi up --refresh`` on that stack, so it is dismissed or resolves, never approved here.
A service with a deployment in flight is not compared: its rollout legitimately differs from both old and
new desired state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from controlplane.domain import loop_events
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.drift import (
    INFRASTRUCTURE,
    DesiredService,
    DriftItem,
    classify,
    from_release,
    infrastructure_drift,
    token_of,
)
from controlplane.domain.events import TraceContext, format_time, new_event
from controlplane.domain.findings import DriftFinding, FindingStatus, Remedy, finding_id
from controlplane.domain.manifest import Release, parse_release
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.errors import ConcurrencyConflict, NotFound, PermanentError, Refused, TransientError
from controlplane.ports import (
    Catalog,
    Claims,
    Compute,
    Deployments,
    DesiredState,
    EventBus,
    EventLog,
    Findings,
    IdempotencyKeys,
    Provisioner,
    Quarantine,
)
from controlplane.services import journal
from controlplane.services.deployments import ServiceBusy, accept, services_in_flight

REPAIRED_BY_ITSELF = "the finding resolves by itself once the stack and the resources agree again"
log = logging.getLogger(__name__)
CORRECTIVE_STRATEGY = {"type": "RollingHealthGated", "maxSurge": 1, "maxUnavailable": 0}


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


def plan(
    findings: Findings,
    catalog: Catalog,
    deployments: Deployments,
    quarantine: Quarantine,
    desired: DesiredState,
    compute: Compute,
    provisioner: Provisioner | None = None,
) -> dict[str, Any]:
    """What the next run would do, finding by finding; changes nothing (``GET /api/drift/plan``)."""
    view = survey(catalog, deployments, quarantine, desired, compute, provisioner)
    known = {finding.id: finding for finding in findings.list_findings()}
    entries = []
    for observation in view.observations:
        stored = known.get(observation.finding_id)
        status = stored.status if stored and not _recurs(stored) else observation.initial_status()
        entries.append(
            {
                "findingId": observation.finding_id,
                "environment": observation.item.environment,
                "service": observation.item.service,
                "kind": observation.item.kind,
                "remedy": observation.item.remedy.value,
                "diff": dict(observation.item.diff),
                "status": status.value,
                "new": stored is None or _recurs(stored),
                "action": _action(status, observation.item.kind),
            }
        )
    resolving = [f.id for f in known.values() if _resolvable(f, view, {e["findingId"] for e in entries})]
    return {"desiredRevision": view.revision, "findings": entries, "resolves": resolving}


def _action(status: FindingStatus, kind: str) -> str:
    if kind == "infrastructure" and status is FindingStatus.OPEN:
        return f"repair with pulumi up --refresh on the environment's stack; {REPAIRED_BY_ITSELF}"
    if status is FindingStatus.APPROVED:
        return "remove the unmanaged workload" if kind == "unmanaged" else "start a corrective deployment"
    return {
        FindingStatus.OPEN: "wait for an operator to approve or dismiss",
        FindingStatus.REMEDIATING: "wait for the corrective deployment",
        FindingStatus.DISMISSED: "nothing: dismissed by an operator",
        FindingStatus.REMEDIATION_FAILED: "nothing until an operator approves a retry",
    }.get(status, "nothing")


def scan(
    findings: Findings,
    catalog: Catalog,
    deployments: Deployments,
    quarantine: Quarantine,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    desired: DesiredState,
    compute: Compute,
    now: datetime,
    provisioner: Provisioner | None = None,
) -> list[str]:
    """Record this run's findings (see the module docstring); return the ids approved for remediation.

    Safe to run twice with the same ``now``: ids, trace ids and event ids derive from the finding and its
    occurrence, so a repeat finds its own records and re-emits nothing new.
    """
    view = survey(catalog, deployments, quarantine, desired, compute, provisioner)
    known = {finding.id: finding for finding in findings.list_findings()}
    seen = set()
    for observation in view.observations:
        seen.add(observation.finding_id)
        stored = known.get(observation.finding_id)
        if stored is None or _recurs(stored):
            known[observation.finding_id] = _detect(
                findings, event_log, bus, source, observation, stored, view.revision, now
            )
        elif stored.active and stored.last_seen < now:
            known[stored.id] = _save_quietly(findings, replace(stored, last_seen=now))
    for finding in list(known.values()):
        if _resolvable(finding, view, seen):
            note = "no longer observed: live state matches desired state again"
            known[finding.id] = _save_quietly(findings, finding.with_status(FindingStatus.RESOLVED, now, note))
        elif finding.status is FindingStatus.REMEDIATING:
            settle(findings, deployments, event_log, bus, source, finding.id, now)
    return [f.id for f in known.values() if f.status is FindingStatus.APPROVED]


def _recurs(stored: DriftFinding) -> bool:
    """A settled finding whose divergence is back is a new occurrence, unless an operator dismissed it or a
    remedy failed (retrying that automatically would loop; an operator approves a retry)."""
    return stored.status in (FindingStatus.REMEDIATED, FindingStatus.RESOLVED)


def _resolvable(finding: DriftFinding, view: Survey, seen: set[str]) -> bool:
    waiting = finding.status in (FindingStatus.OPEN, FindingStatus.APPROVED)
    return waiting and finding.id not in seen and (finding.environment, finding.service) in view.compared


def _detect(
    findings: Findings,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    observation: Observation,
    stored: DriftFinding | None,
    revision: str,
    now: datetime,
) -> DriftFinding:
    """A new finding, or a new occurrence of a settled one: emit RuntimeDriftDetected, then store it."""
    item, fid = observation.item, observation.finding_id
    occurrence = format_time(stored.last_seen) if stored else "first"
    traceid = journal.stable_trace(fid, occurrence)
    status = observation.initial_status()
    finding = DriftFinding(
        fid,
        item.environment,
        item.service,
        item.remedy,
        item.diff,
        status,
        now,
        now,
        kind=item.kind,
        desired_revision=revision,
        note="approved by policy: auto-remediable drift outside prod" if status is FindingStatus.APPROVED else "",
        traceid=traceid,
        etag=stored.etag if stored else None,
    )
    detected = loop_events.drift_detected(
        finding_id=fid,
        environment=item.environment,
        service=item.service,
        classification=item.remedy.value,
        kind=item.kind,
        diff=item.diff,
        status=status.value,
        desired_revision=revision,
    )
    envelope = new_event(
        detected.type,
        event_id=journal.stable_id(fid, occurrence, "detected"),
        source=source,
        subject=f"environments/{item.environment}/services/{item.service}",
        time=now,
        trace=TraceContext(traceid, fid),
        data=detected.data,
    )
    journal.record(event_log, bus, [envelope])
    try:
        return findings.save_finding(finding) if stored else findings.create_finding(finding)
    except ConcurrencyConflict:  # a repeat of this run stored it first
        return findings.get_finding(fid)


def _save_quietly(findings: Findings, finding: DriftFinding) -> DriftFinding:
    """Save a bookkeeping change; if an operator changed the finding meanwhile, theirs stands."""
    try:
        return findings.save_finding(finding)
    except ConcurrencyConflict:
        return findings.get_finding(finding.id)


def corrective_release(release: Release, service: str, finding: DriftFinding) -> Release:
    """The desired release narrowed to one service, rolled out RollingHealthGated, labelled with the finding."""
    document = release.to_dict()
    document["metadata"].setdefault("labels", {})["controlplane.azure/drift-finding"] = finding.id
    document["spec"]["services"] = [s for s in document["spec"]["services"] if s["name"] == service]
    document["spec"]["strategy"] = dict(CORRECTIVE_STRATEGY)
    return parse_release(document)


def start_remediation(
    findings: Findings,
    deployments: Deployments,
    claims: Claims,
    idempotency_keys: IdempotencyKeys,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    desired: DesiredState,
    compute: Compute,
    fid: str,
    now: datetime,
) -> DeploymentStart | None:
    """Act on one approved finding. Returns the corrective deployment's orchestration input, or None when
    there is nothing to run (removed an unmanaged workload, not approved any more, or the service is busy)."""
    finding = findings.get_finding(fid)
    if finding.status is FindingStatus.REMEDIATING and finding.deployment_id:
        return _orchestration_input(deployments.get_deployment(finding.deployment_id), fid)  # a repeat of this activity
    if finding.status is not FindingStatus.APPROVED:
        return None
    if finding.kind == "unmanaged":
        _remove_unmanaged(findings, event_log, bus, source, compute, finding, now)
        return None
    release = next(
        (r for r in reversed(desired.releases(finding.environment)) if _has_service(r, finding.service)), None
    )
    if release is None:
        _save_quietly(findings, finding.with_status(FindingStatus.RESOLVED, now, "the service is no longer desired"))
        return None
    corrective = corrective_release(release, finding.service, finding)
    try:
        key = f"drift/{fid}/{finding.traceid}"
        accepted = accept(deployments, claims, idempotency_keys, corrective, now, key, finding.traceid)
    except ServiceBusy as busy:
        _save_quietly(findings, replace(finding, note=f"waiting: {busy}"))
        return None
    findings.save_finding(
        replace(
            finding.with_status(FindingStatus.REMEDIATING, now, "corrective deployment started"),
            deployment_id=accepted.deployment.id,
        )
    )
    return _orchestration_input(accepted.deployment, fid)


def _has_service(release: Release, service: str) -> bool:
    return any(s.name == service for s in release.spec.services)


def _orchestration_input(deployment: Deployment, fid: str) -> DeploymentStart:
    return DeploymentStart.of(deployment, pre_approved=f"drift finding {fid}")


def _remove_unmanaged(
    findings: Findings,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    compute: Compute,
    finding: DriftFinding,
    now: datetime,
) -> None:
    """An operator approved pruning: remove each workload the finding lists."""
    revisions = [token_of(pointer, "revisions") for pointer in finding.diff]
    try:
        for revision in revisions:
            compute.remove_revision(finding.environment, finding.service, revision)
    except (PermanentError, NotFound) as error:
        findings.save_finding(finding.with_status(FindingStatus.REMEDIATION_FAILED, now, f"could not remove: {error}"))
        return
    _remediated(findings, event_log, bus, source, finding, now, {"removed": revisions})


def settle(
    findings: Findings,
    deployments: Deployments,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    fid: str,
    now: datetime,
) -> str:
    """Close a remediating finding once its corrective deployment ended; returns the finding's status."""
    finding = findings.get_finding(fid)
    if finding.status is not FindingStatus.REMEDIATING or not finding.deployment_id:
        return finding.status.value
    deployment = deployments.get_deployment(finding.deployment_id)
    if not deployment.is_terminal:
        return finding.status.value
    if deployment.state is DeploymentState.COMPLETED:
        _remediated(findings, event_log, bus, source, finding, now, {"deploymentId": deployment.id})
        return FindingStatus.REMEDIATED.value
    reason = deployment.transitions[-1].reason or deployment.state.value
    note = f"corrective deployment {deployment.id} ended {deployment.state.value}: {reason}"
    _save_quietly(findings, finding.with_status(FindingStatus.REMEDIATION_FAILED, now, note))
    return FindingStatus.REMEDIATION_FAILED.value


def _remediated(
    findings: Findings,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    finding: DriftFinding,
    now: datetime,
    outcome: dict[str, Any],
) -> None:
    remediated = loop_events.drift_remediated(finding, outcome)
    envelope = new_event(
        remediated.type,
        event_id=journal.stable_id(finding.id, finding.traceid, "remediated"),
        source=source,
        subject=f"environments/{finding.environment}/services/{finding.service}",
        time=now,
        trace=TraceContext(finding.traceid, finding.id),
        data=remediated.data,
    )
    journal.record(event_log, bus, [envelope])
    _save_quietly(findings, finding.with_status(FindingStatus.REMEDIATED, now, "repaired"))


class Undecidable(Refused):
    """The finding's status does not allow the operator's decision."""


def decide(findings: Findings, fid: str, decision: str, now: datetime, reason: str = "") -> DriftFinding:
    """An operator's ``approve`` or ``dismiss``; NotFound for an unknown id, Undecidable when the finding's
    status does not allow it (only Open or RemediationFailed findings are approved; settled ones stay)."""
    finding = findings.get_finding(fid)
    allowed = {
        "approve": (FindingStatus.OPEN, FindingStatus.REMEDIATION_FAILED),
        "dismiss": (FindingStatus.OPEN, FindingStatus.APPROVED, FindingStatus.REMEDIATION_FAILED),
    }[decision]
    if finding.status not in allowed:
        raise Undecidable(f"finding {fid} is {finding.status.value}; {decision} needs {' or '.join(allowed)}")
    if finding.kind == "infrastructure" and decision == "approve":
        raise Undecidable(
            f"finding {fid} is infrastructure drift: repair it with pulumi up --refresh on the stack of "
            f"{finding.environment}; {REPAIRED_BY_ITSELF}"
        )
    status = FindingStatus.APPROVED if decision == "approve" else FindingStatus.DISMISSED
    note = f"{decision}d by an operator" + (f": {reason}" if reason else "")
    decided = finding.with_status(status, now, note)
    if finding.status is FindingStatus.REMEDIATION_FAILED and status is FindingStatus.APPROVED:
        # A retry is a new attempt: its own trace, so its corrective deployment is a new one too.
        decided = replace(decided, traceid=journal.stable_trace(fid, "retry", format_time(now)), deployment_id=None)
    return findings.save_finding(decided)


def listed(findings: Findings, status: str | None) -> Iterable[DriftFinding]:
    """Findings for ``GET /api/drift/findings?status=``; ValueError naming the valid statuses."""
    if not status:
        return findings.list_findings()
    try:
        return findings.list_findings(FindingStatus(status))
    except ValueError:
        raise ValueError(f"status must be one of {', '.join(s.value for s in FindingStatus)}") from None
