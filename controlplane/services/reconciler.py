"""The deployment reconciler: end every deployment whose orchestration can no longer end it.

An orchestration that ends other than through the deployment orchestrator's own code (terminated through
the Durable webhook, failed in a way the orchestrator could not catch, purged, or never started after a crash
between accepting the deployment and starting it) leaves its deployment non-terminal, holding its services'
claims for good. The reconciler looks at each non-terminal deployment's orchestration and ends the ones whose
orchestration is gone or ended, as the orchestrator would have from the state the deployment was left in:

    orchestration                        | deployment state                      | ends
    -------------------------------------+---------------------------------------+------------------------------
    Pending, Running, Suspended, ...     | any                                   | left alone
    none, deployment older than ``grace``| any                                   | as below, "not found"
    none, younger                        | any                                   | left alone (may be starting)
    Completed, Failed, Terminated        | Requested, Provisioning, Configuring  | Failed (nothing rolled out)
                                         | RollingOut, HealthGating, Promoting,  | rolled back on compute: RolledBack,
                                         | RollingBack                           | or Failed + incident (nothing to
                                         |                                       | restore, or the rollback failed);
                                         |                                       | a service promoted already stays

Ending is one optimistic-concurrency write of the deployment that applies only if it is still non-terminal,
so when two reconcilers (or a reconciler and the API's on-the-spot repair) race, one write wins; only the
winner emits the state changes and the one terminal event, with ids derived from the deployment (a retry
after a crash emits the same ids). Rolling compute back first is safe to repeat: each rollback step is
idempotent. Claims are released whenever the deployment is terminal (releasing is idempotent too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.domain import deployment_events
from controlplane.domain.deployment import DEPLOYMENT_MACHINE, Deployment, DeploymentState
from controlplane.domain.event_catalog import EventData
from controlplane.domain.events import Envelope
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.orchestration import OrchestrationStatus, RuntimeStatus
from controlplane.errors import ControlPlaneError, first_line
from controlplane.ports import Catalog, Claims, Compute, Deployments, EventBus, EventLog, Quarantine
from controlplane.services import journal, rollout

log = logging.getLogger(__name__)
Lookup = Callable[[str], OrchestrationStatus | None]
"""The orchestration status of a deployment's instance (its id is the deployment id); None if there is none."""
DEFAULT_GRACE = timedelta(minutes=2)
S = DeploymentState
_ROLLED_OUT = frozenset({S.ROLLING_OUT, S.HEALTH_GATING, S.PROMOTING, S.ROLLING_BACK})
_STEP = timedelta(microseconds=1)


@dataclass(frozen=True)
class Stuck:
    """A non-terminal deployment whose orchestration will never end it, and why."""

    deployment: Deployment
    why: str


def stuck_deployments(deployments: Deployments, lookup: Lookup, now: datetime, grace: timedelta) -> list[Stuck]:
    """Every non-terminal deployment with no running orchestration (one with none at all only once it is
    older than ``grace``): what the reconciler ends, and what bench/reliability.py counts."""
    found = []
    for deployment in deployments.list_deployments():
        if not deployment.is_terminal:
            why = _why_stuck(deployment, lookup(deployment.id), now, grace)
            if why is not None:
                found.append(Stuck(deployment, why))
    return found


def _why_stuck(
    deployment: Deployment, status: OrchestrationStatus | None, now: datetime, grace: timedelta
) -> str | None:
    if status is None:
        age = now - deployment.updated_at
        return "orchestration not found (purged, or never started)" if age >= grace else None
    if not status.ended:
        return None
    if status.runtime_status is RuntimeStatus.COMPLETED:
        return "orchestration Completed without ending the deployment"
    return f"orchestration {status.runtime_status.value}: {status.output or 'no reason given'}"


@dataclass(frozen=True)
class Reconciler:
    deployments: Deployments
    claims: Claims
    catalog: Catalog
    quarantine: Quarantine
    compute: Compute
    event_log: EventLog
    bus: EventBus
    source: str
    grace: timedelta = DEFAULT_GRACE

    def reconcile(self, lookup: Lookup, now: datetime) -> list[Deployment]:
        """End every stuck deployment; the deployments as they ended (whoever ended them). One that cannot be
        ended now (storage or compute unreachable) is logged and tried again at the next run."""
        ended = []
        for stuck in stuck_deployments(self.deployments, lookup, now, self.grace):
            try:
                ended.append(self.end(stuck, now))
            except ControlPlaneError as error:
                log.error("reconciler: deployment %s not ended yet: %s", stuck.deployment.id, error)
        return ended

    def reconcile_one(self, deployment_id: str, lookup: Lookup, now: datetime) -> Deployment:
        """The deployment, ended first if its orchestration is gone or ended (no grace: the caller saw it idle)."""
        deployment = self.deployments.get_deployment(deployment_id)
        if deployment.is_terminal:
            return deployment
        why = _why_stuck(deployment, lookup(deployment_id), now, timedelta(0))
        return deployment if why is None else self.end(Stuck(deployment, why), now)

    def end(self, stuck: Stuck, now: datetime) -> Deployment:
        """End ``stuck``'s deployment from its state (see the module's table); idempotent under races."""
        deployment, reason = stuck.deployment, stuck.why
        log.warning("reconciler: ending deployment %s (%s): %s", deployment.id, deployment.state.value, reason)
        targets: list[Target] = []
        restored = None
        if deployment.state in _ROLLED_OUT:
            planned = rollout.targets(self.deployments, self.catalog, deployment.id)
            # A service the catalog already names this deployment for was promoted: it stays, serving.
            promoted = [t.service for t in planned if t.stable_deployment == deployment.id]
            targets = [t for t in planned if t.stable_deployment != deployment.id]
            if promoted:
                reason = f"{reason}; promoted already, kept: {', '.join(promoted)}"
            reason, restored = self._roll_back(deployment, targets, reason, now)
        final = S.FAILED if restored is None else S.ROLLED_BACK
        kept = 0  # transitions the deployment had before this write: what follows is this write's

        def change(current: Deployment) -> Deployment:
            nonlocal kept
            kept = 0 if current.is_terminal else len(current.transitions)  # re-run on each lost race
            if current.is_terminal:
                return current
            if final not in DEPLOYMENT_MACHINE.targets(current.state):
                current = current.advance(S.ROLLING_BACK, now, reason)
            return current.advance(final, now + _STEP, reason)

        ended = self.deployments.update_deployment(deployment.id, change)
        try:
            if kept:  # this write ended it: it alone emits the changes and the one terminal event
                closing = self._closing_events(ended, final, reason, targets, restored)
                journal.record(self.event_log, self.bus, self._envelopes(ended, kept, closing))
        finally:  # a terminal deployment is never found stuck again: its claims go now, whatever happened above
            self.claims.release_services(ended.environment, ended.service_names, ended.id)
        return ended

    def _roll_back(
        self, deployment: Deployment, targets: list[Target], reason: str, now: datetime
    ) -> tuple[str, str | None]:
        """Put traffic back on each stable revision: (the reason, the deployment that serves again or None when
        there is none or the rollback failed; the reason then says why)."""
        for target in targets:
            try:
                rollout.roll_back(
                    self.deployments, self.catalog, self.quarantine, self.compute, deployment.id, target, reason, now
                )
            except (ControlPlaneError, OSError) as error:
                return f"{reason}; rollback of {target.service} failed: {first_line(error)}", None
        return reason, next((t.stable_deployment for t in targets if t.stable_deployment), None)

    def _closing_events(
        self, ended: Deployment, final: DeploymentState, reason: str, targets: list[Target], restored: str | None
    ) -> list[EventData]:
        if final is S.ROLLED_BACK and restored is not None:
            unrestored = [t.service for t in targets if t.stable_revision is None]
            return [deployment_events.rolled_back(reason, restored, {}, unrestored)]
        events = [deployment_events.failed(reason)]
        if targets:  # compute was touched and nothing earlier serves, or the rollback failed: an operator decides
            incident = deployment_events.incident_raised(
                incident_id=f"incident-{ended.id}",
                reason=reason,
                environment=ended.environment,
                services=list(ended.service_names),
                deployment_id=ended.id,
                traceid=ended.traceid,
                chain=None,
            )
            events.append(incident)
        return events

    def _envelopes(self, ended: Deployment, kept: int, closing: list[EventData]) -> list[Envelope]:
        """The state changes this write added, then the closing events: ids derived from the deployment, times a
        microsecond apart from the first change (the event log orders a trace by time)."""
        events = [deployment_events.state_changed(step) for step in ended.transitions[kept:]] + closing
        start = ended.transitions[kept].at
        return [
            deployment_events.deployment_envelope(
                ended,
                event,
                event_id=journal.stable_id("reconciler", ended.id, str(kept), str(index)),
                source=self.source,
                time=start + _STEP * index,
            )
            for index, event in enumerate(events)
        ]
