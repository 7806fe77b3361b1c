"""Measuring one analysis metric of a rollout's new revision: ask the provider, judge, emit the measurement.

Safe to run twice (the activity is retried after a crash): a measurement reads the provider only, and its
RuntimeAnalysisMeasured carries the orchestrator's event id, so a second emit is a duplicate the journal drops.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controlplane.domain import gate_events
from controlplane.domain.analysis import MetricQuery, judge
from controlplane.errors import PermanentError
from controlplane.ports import AnalysisProvider, Deployments, EventBus, EventLog
from controlplane.services.deployments import emit


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
    RuntimeAnalysisMeasured and returns ``{"measurement": ..., "verdict": ...}``."""
    deployment = deployments.get_deployment(deployment_id)
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
