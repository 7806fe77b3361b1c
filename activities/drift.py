"""Activities of the drift loop: a typed request in, one handler of controlplane.services.drift, dict out.

A run's approved findings are started and settled a batch at a time (``services/drift/batches.py``), at most
``CONTROLPLANE_DRIFT_MAX_REMEDIATIONS_PER_RUN`` per batch: the activities read the setting, so the orchestration
stays deterministic when it changes mid-run.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity
from controlplane.bootstrap import ports
from controlplane.domain.workflow.drift_requests import BatchRequest, FindingsRequest, ScanRequest
from controlplane.services.drift.batches import approved_batch, settle_findings, start_remediations
from controlplane.services.drift.scan import scan

bp = df.Blueprint()


def _source() -> str:
    return f"{ports().settings.event_source}/drift"


def _batch_size() -> int:
    return ports().settings.drift_max_remediations_per_run


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_scan(request: dict) -> dict[str, Any]:
    """Compare live with desired state, record findings; the first batch of the findings approved for
    remediation (``ApprovedBatch``)."""
    at = ScanRequest.from_dict(request).at
    wired = ports()
    store = wired.store
    scan(
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
    return approved_batch(store.findings, _batch_size()).to_dict()


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_next_batch(request: dict) -> dict[str, Any]:
    """The next batch of approved findings (``ApprovedBatch``), from where the last one ended; reads only."""
    start = BatchRequest.from_dict(request).start
    return approved_batch(ports().store.findings, _batch_size(), start).to_dict()


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_start_remediations(request: dict) -> dict[str, Any]:
    """Start each finding's remedy; finding id -> its corrective deployment's orchestration input."""
    batch = FindingsRequest.from_dict(request)
    wired = ports()
    store = wired.store
    started = start_remediations(
        store.findings,
        store.deployments,
        store.claims,
        store.event_log,
        wired.events,
        _source(),
        wired.desired_state,
        wired.compute,
        batch.finding_ids,
        batch.at,
    )
    return {fid: start.to_dict() for fid, start in started.items()}


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_settle_findings(request: dict) -> dict[str, str]:
    """Close each finding whose corrective deployment ended; finding id -> its status."""
    batch = FindingsRequest.from_dict(request)
    wired = ports()
    store = wired.store
    return settle_findings(
        store.findings, store.deployments, store.event_log, wired.events, _source(), batch.finding_ids, batch.at
    )
