"""Activities of a rollout's metric analysis: a typed request in (``from_dict`` on the first line), one handler of
controlplane.services, dict out. Safe to run twice."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity
from controlplane.bootstrap import ports
from controlplane.domain.workflow.analysis_requests import MeasureRequest
from controlplane.services import analysis

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
@traced_activity
def measure_metric(request: dict) -> dict[str, Any]:
    """One measurement of one metric on the new revision; emits RuntimeAnalysisMeasured; the measurement and
    its verdict."""
    measure = MeasureRequest.from_dict(request)
    wired = ports()
    store = wired.store
    return analysis.measure(
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
