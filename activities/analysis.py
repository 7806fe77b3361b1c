"""Activities of a rollout's metric analysis: a typed request in (``from_dict`` on the first line), one handler of
controlplane.services, dict out. Safe to run twice."""

from __future__ import annotations

import asyncio
from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_async_activity
from controlplane.bootstrap import ports
from controlplane.domain.workflow.analysis_requests import MeasureRequest
from controlplane.services import analysis

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
@traced_async_activity
async def measure_metric(request: dict) -> dict[str, Any]:
    """One measurement of one metric on the new revision; emits RuntimeAnalysisMeasured; the measurement and
    its verdict. With a ``due`` time, first waits for it (``{"waiting": true}`` when the call's time is up first,
    ``{"stopped": true}`` when the release stops rolling out meanwhile)."""
    measure = MeasureRequest.from_dict(request)
    wired = ports()
    store = wired.store
    if measure.due is not None:
        waited = await analysis.wait_for_due(store.deployments, measure.deployment_id, measure.due, measure.at)
        if waited is not None:
            return waited
    return await asyncio.to_thread(
        analysis.measure,
        store.deployments,
        store.event_log,
        wired.events,
        wired.analysis,
        f"{wired.settings.event_source}/deployments",
        measure.deployment_id,
        measure.where(),
        measure.metric,
        measure.number,
        measure.at,
        measure.event_id,
    )
