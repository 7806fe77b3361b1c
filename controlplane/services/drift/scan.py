"""Detecting drift: one run's observations recorded as findings, and findings no longer observed resolved."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from controlplane.domain import loop_events
from controlplane.domain.events import TraceContext, format_time, new_event
from controlplane.domain.findings import DriftFinding, FindingStatus
from controlplane.errors import ConcurrencyConflict
from controlplane.ports import (
    Catalog,
    Compute,
    Deployments,
    DesiredState,
    EventBus,
    EventLog,
    Findings,
    Provisioner,
    Quarantine,
)
from controlplane.services import journal
from controlplane.services.drift.bookkeeping import save_quietly
from controlplane.services.drift.remediation import settle
from controlplane.services.drift.survey import Observation, survey


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
    """Record this run's findings; return the ids approved for remediation.

    A new divergence (or a settled one that recurs) emits RuntimeDriftDetected; a known active one is only
    touched; a waiting one no longer observed resolves; a remediating one is settled if its deployment ended.
    Safe to run twice with the same ``now``: ids, trace ids and event ids derive from the finding and its
    occurrence, so a repeat finds its own records and re-emits nothing new.
    """
    view = survey(catalog, deployments, quarantine, desired, compute, provisioner)
    known = {finding.id: finding for finding in findings.list_findings()}
    seen: set[str] = set()
    for observation in view.observations:
        seen.add(observation.finding_id)
        stored = known.get(observation.finding_id)
        if stored is None or stored.recurs:
            known[observation.finding_id] = _detect(
                findings, event_log, bus, source, observation, stored, view.revision, now
            )
        elif stored.active and stored.last_seen < now:
            known[stored.id] = save_quietly(findings, replace(stored, last_seen=now))
    for finding in list(known.values()):
        if view.resolves(finding, seen):
            note = "no longer observed: live state matches desired state again"
            known[finding.id] = save_quietly(findings, finding.with_status(FindingStatus.RESOLVED, now, note))
        elif finding.status is FindingStatus.REMEDIATING:
            settle(findings, deployments, event_log, bus, source, finding.id, now)
    return [f.id for f in known.values() if f.status is FindingStatus.APPROVED]


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
