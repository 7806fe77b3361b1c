"""Remedying drift: start a finding's corrective deployment (or remove an unmanaged workload), then settle it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from controlplane.domain import loop_events
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.drift import token_of
from controlplane.domain.events import TraceContext, new_event
from controlplane.domain.findings import DriftFinding, FindingStatus
from controlplane.domain.manifest import Release, parse_release
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.errors import NotFound, PermanentError
from controlplane.ports import (
    Claims,
    Compute,
    Deployments,
    DesiredState,
    EventBus,
    EventLog,
    Findings,
)
from controlplane.services import journal
from controlplane.services.deployments import ServiceBusy, accept
from controlplane.services.drift.bookkeeping import save_quietly

CORRECTIVE_STRATEGY = {"type": "RollingHealthGated", "maxSurge": 1, "maxUnavailable": 0}


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
        save_quietly(findings, finding.with_status(FindingStatus.RESOLVED, now, "the service is no longer desired"))
        return None
    corrective = corrective_release(release, finding.service, finding)
    try:
        key = f"drift/{fid}/{finding.traceid}"
        accepted = accept(deployments, claims, corrective, now, key, finding.traceid)
    except ServiceBusy as busy:
        save_quietly(findings, replace(finding, note=f"waiting: {busy}"))
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
    save_quietly(findings, finding.with_status(FindingStatus.REMEDIATION_FAILED, now, note))
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
    """Emit RuntimeDriftRemediated in the finding's trace, then mark it Remediated."""
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
    save_quietly(findings, finding.with_status(FindingStatus.REMEDIATED, now, "repaired"))
