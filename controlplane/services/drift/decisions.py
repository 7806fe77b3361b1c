"""Operators' decisions on findings: approve (remediate, or retry a failed remedy) or dismiss (accept it),
and drift runs an operator starts; each is recorded with its actor and emitted."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from controlplane.domain import loop_events
from controlplane.domain.access import Actor
from controlplane.domain.events import TraceContext, format_time, new_event
from controlplane.domain.findings import Decision, DriftFinding, FindingStatus, decidable_from
from controlplane.errors import Refused
from controlplane.ports import EventBus, EventLog, Findings
from controlplane.services import journal

REPAIRED_BY_ITSELF = "the finding resolves by itself once the stack and the resources agree again"


class Undecidable(Refused):
    """The finding's status does not allow the operator's decision."""


def decide(
    findings: Findings,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    fid: str,
    decision: Decision,
    now: datetime,
    actor: Actor,
    reason: str,
) -> DriftFinding:
    """``actor``'s ``approve`` or ``dismiss`` for ``reason``: the finding records who and why, then
    RuntimeDriftFindingDecided is emitted in its trace. NotFound for an unknown id, Undecidable when the
    finding's status does not allow it (the lifecycle's edges into Approved or Dismissed; settled findings
    stay). The finding is saved first: it is the decision; the event's id derives from the decision, so a
    repeat of a recording that failed is one event."""
    finding = findings.get_finding(fid)
    allowed = decidable_from(decision)
    if finding.status not in allowed:
        raise Undecidable(f"finding {fid} is {finding.status.value}; {decision} needs {' or '.join(allowed)}")
    if finding.kind == "infrastructure" and decision is Decision.APPROVE:
        raise Undecidable(
            f"finding {fid} is infrastructure drift: repair it with pulumi up --refresh on the stack of "
            f"{finding.environment}; {REPAIRED_BY_ITSELF}"
        )
    note = f"{decision.target.value.lower()} by {actor.name}: {reason}"
    decided = replace(finding.with_status(decision.target, now, note), decided_by=actor, decision_reason=reason)
    if finding.status is FindingStatus.REMEDIATION_FAILED and decision is Decision.APPROVE:
        # A retry is a new attempt: its own trace, so its corrective deployment is a new one too.
        decided = replace(decided, traceid=journal.stable_trace(fid, "retry", format_time(now)), deployment_id=None)
    saved = findings.save_finding(decided)
    event = loop_events.finding_decided(saved, decision.value, actor, reason)
    envelope = new_event(
        event.type,
        event_id=journal.stable_id(fid, saved.traceid, "decided", decision.value, format_time(now)),
        source=source,
        subject=f"environments/{saved.environment}/services/{saved.service}",
        time=now,
        trace=TraceContext(saved.traceid or journal.stable_trace(fid, "decided", format_time(now)), fid),
        data=event.data,
    )
    journal.record(event_log, bus, [envelope])
    return saved


def record_run_request(
    event_log: EventLog, bus: EventBus, source: str, instance_id: str, now: datetime, actor: Actor, reason: str | None
) -> str:
    """Emit RuntimeDriftRunRequested: ``actor`` started drift run ``instance_id`` on demand (``reason``, if
    given). The request starts its own trace (a run's findings have theirs); its id is returned."""
    event = loop_events.drift_run_requested(instance_id, actor, reason)
    traceid = uuid.uuid4().hex
    envelope = new_event(
        event.type,
        event_id=str(uuid.uuid4()),
        source=source,
        subject=f"drift/runs/{instance_id}",
        time=now,
        trace=TraceContext(traceid, instance_id),
        data=event.data,
    )
    journal.record(event_log, bus, [envelope])
    return traceid
