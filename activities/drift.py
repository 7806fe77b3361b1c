"""Activities of the drift loop: a typed request in, one handler of controlplane.services.drift, dict out."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity
from controlplane.bootstrap import ports
from controlplane.domain.workflow.drift_requests import FindingRequest, ScanRequest
from controlplane.services.drift.remediation import settle, start_remediation
from controlplane.services.drift.scan import scan

bp = df.Blueprint()


def _source() -> str:
    return f"{ports().settings.event_source}/drift"


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_scan(request: dict) -> list[str]:
    """Compare live with desired state, record findings; the ids approved for remediation."""
    at = ScanRequest.from_dict(request).at
    wired = ports()
    store = wired.store
    return scan(
        store.findings,
        store.catalog,
        store.deployments,
        store.quarantine,
        store.event_log,
        wired.events,
        _source(),
        wired.desired_state,
        wired.compute,
        at,
        wired.provisioner,
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_start_remediation(request: dict) -> dict[str, Any] | None:
    """Start one approved finding's remedy; the corrective deployment's orchestration input, if any."""
    finding = FindingRequest.from_dict(request)
    wired = ports()
    store = wired.store
    start = start_remediation(
        store.findings,
        store.deployments,
        store.claims,
        store.event_log,
        wired.events,
        _source(),
        wired.desired_state,
        wired.compute,
        finding.finding_id,
        finding.at,
    )
    return start.to_dict() if start else None


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_settle(request: dict) -> str:
    """Close a finding whose corrective deployment ended; its status."""
    finding = FindingRequest.from_dict(request)
    wired = ports()
    store = wired.store
    return settle(
        store.findings, store.deployments, store.event_log, wired.events, _source(), finding.finding_id, finding.at
    )
