"""Measuring one analysis metric of a rollout's new revision: ask the provider, judge, emit the measurement.

Safe to run twice (the activity is retried after a crash): a measurement reads the provider only, and its
RuntimeAnalysisMeasured carries the orchestrator's event id, so a second emit is a duplicate the journal drops.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controlplane.domain import gate_events
from controlplane.domain.analysis import MetricQuery, judge
from controlplane.errors import PermanentError
from controlplane.ports import AnalysisProvider, Deployments, EventBus, EventLog
from controlplane.services import rollout_wait
from controlplane.services.deployments import emit
from controlplane.services.rollout_wait import CALL_BUDGET, MEASURED


def measure(
    deployments: Deployments,
    event_log: EventLog,
    bus: EventBus,
    provider: AnalysisProvider,
    source: str,
    deployment_id: str,
    where: dict[str, Any],
    metric_name: str,
    number: int,
    at: datetime,
    event_id: str,
) -> dict[str, Any]:
    """Measurement ``number`` of ``metric_name`` on the gate's (``where``) new revision; emits
    RuntimeAnalysisMeasured and returns ``{"measurement": ..., "verdict": ...}``; ``{"stopped": true}``, measuring
    nothing, once the release is rolling back or has ended (its services' sub-orchestrations stop at once)."""
    deployment = deployments.get_deployment(deployment_id)
    if deployment.state not in MEASURED:
        return {"stopped": True}
    service = where["service"]
    analysis = deployment.release.analysis_of(service)
    metric = next((metric for metric in analysis.metrics if metric.name == metric_name), None) if analysis else None
    if analysis is None or metric is None:  # the orchestrator measures only what the release names
        raise PermanentError(f"{service}: the release's analysis has no metric {metric_name!r}")
    query = MetricQuery.of(analysis, metric, deployment.environment, service, where["revision"])
    measurement = provider.measure(query)
    verdict = judge(measurement, metric.threshold)
    measured = gate_events.analysis_measured(where, query, measurement, metric.threshold, verdict, number)
    emit(deployments, event_log, bus, source, deployment_id, measured, at, event_id)
    return {"measurement": measurement.to_dict(), "verdict": verdict.value}


async def wait_for_due(
    deployments: Deployments,
    deployment_id: str,
    due: datetime,
    scheduled_at: datetime,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any] | None:
    """Wait in the activity until a measurement of a service's segment is due (None: measure now), at most
    ``CALL_BUDGET`` (``{"waiting": true}``: call again), while the release rolls out (``{"stopped": true}``).
    ``due`` is on the orchestration's clock, which stamped the request at ``scheduled_at``."""
    started = now()
    budget_end = started + CALL_BUDGET
    due = rollout_wait.local(due, scheduled_at, started)
    if not await rollout_wait.wait_until(deployments, deployment_id, min(due, budget_end), now, MEASURED):
        return {"stopped": True}
    return {"waiting": True} if now() < due else None
