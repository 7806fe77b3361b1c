"""The builders of the events that explain a rollout's gates: health gate verdicts, analysis measurements and
verdicts, inconclusive holds, webhook calls and release waves. ``domain.explain`` reads them back.

A gate is named by ``gate`` (its number among the service's gates, from 1; ``after promotion`` analysis counts
as one more) and ``step`` (what the gate verifies, e.g. "canary step 1: 10% traffic on 1 replicas").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controlplane.domain.access import Actor
from controlplane.domain.analysis import Measurement, MetricQuery, MetricTally, Verdict, describe_threshold
from controlplane.domain.event_catalog import EventData, EventType
from controlplane.domain.hooks import HookCall, HookOutcome, shown_url
from controlplane.domain.manifest.analysis import InconclusivePolicy, Threshold


def gate_of(service: str, revision: str, gate: int, step: str) -> dict[str, Any]:
    return {"service": service, "revision": revision, "gate": gate, "step": step}


def health_gate_completed(where: dict[str, Any], verdict: str, passes: int, failures: int, reason: str) -> EventData:
    """RuntimeHealthGateCompleted: ``verdict`` passed or failed after ``passes``/``failures`` consecutive probes."""
    data = {**where, "verdict": verdict, "probes": {"passed": passes, "failed": failures}, "reason": reason}
    return EventData(EventType.RUNTIME_HEALTH_GATE_COMPLETED, data)


def analysis_measured(
    where: dict[str, Any],
    query: MetricQuery,
    measurement: Measurement,
    threshold: Threshold,
    verdict: Verdict,
    number: int,
) -> EventData:
    """RuntimeAnalysisMeasured: measurement ``number`` (from 1) of one metric at one gate."""
    data = {
        **where,
        "metric": query.metric,
        "provider": query.provider,
        "query": measurement.query,
        "windowSeconds": query.window_seconds,
        "value": measurement.value,
        "threshold": {"min": threshold.min, "max": threshold.max, "shown": describe_threshold(threshold)},
        "verdict": verdict.value,
        "measurement": number,
        "error": measurement.error,
        "samples": measurement.samples,
    }
    return EventData(EventType.RUNTIME_ANALYSIS_MEASURED, data)


def analysis_completed(
    where: dict[str, Any], verdict: Verdict, reason: str, tallies: Sequence[tuple[MetricTally, Verdict]]
) -> EventData:
    """RuntimeAnalysisCompleted: the gate's analysis verdict, and each metric's tally and verdict."""
    metrics = [{**tally.to_dict(), "verdict": metric_verdict.value} for tally, metric_verdict in tallies]
    return EventData(
        EventType.RUNTIME_ANALYSIS_COMPLETED, {**where, "verdict": verdict.value, "reason": reason, "metrics": metrics}
    )


def analysis_held(where: dict[str, Any], reason: str, policy: InconclusivePolicy) -> EventData:
    """RuntimeAnalysisHeld: the rollout waits for an operator (``actionRequired``)."""
    data = {
        **where,
        "reason": reason,
        "actionRequired": True,
        "timeoutSeconds": policy.timeout_seconds,
        "onTimeout": policy.on_timeout,
    }
    return EventData(EventType.RUNTIME_ANALYSIS_HELD, data)


def analysis_hold_resolved(where: dict[str, Any], resolution: str, action: str, actor: Actor | None) -> EventData:
    """RuntimeAnalysisHoldResolved: ``resolution`` approved, aborted or timed-out; ``action`` continue or rollback."""
    data = {**where, "resolution": resolution, "action": action, "actor": actor.to_dict() if actor else None}
    return EventData(EventType.RUNTIME_ANALYSIS_HOLD_RESOLVED, data)


def webhook_called(call: HookCall, outcome: HookOutcome, effect: str, where: dict[str, Any] | None = None) -> EventData:
    """RuntimeWebhookCalled: ``effect`` says what the answer did (passed, rolls back, holds promotion, recorded,
    asks for a rollback, no rollback asked)."""
    data = {
        **(where or {}),
        "hook": call.hook,
        "hookType": call.type,
        "url": shown_url(call.url),
        "status": outcome.status,
        "attempts": outcome.attempts,
        "outcome": "succeeded" if outcome.succeeded else "failed",
        "error": outcome.error,
        "effect": effect,
    }
    return EventData(EventType.RUNTIME_WEBHOOK_CALLED, data)


def promotion_held(service: str, hook: str, reason: str) -> EventData:
    """RuntimePromotionHeld: a confirm-promotion webhook has not confirmed yet."""
    return EventData(EventType.RUNTIME_PROMOTION_HELD, {"service": service, "hook": hook, "reason": reason})


def wave_started(wave: int, waves: int, services: Sequence[str], waits_for: Sequence[str]) -> EventData:
    """RuntimeReleaseWaveStarted: wave ``wave`` of ``waves`` (from 1) and the earlier services it waited for."""
    data = {"wave": wave, "waves": waves, "services": list(services), "waitsFor": list(waits_for)}
    return EventData(EventType.RUNTIME_RELEASE_WAVE_STARTED, data)


def wave_completed(wave: int, waves: int, services: Sequence[str], verdict: str) -> EventData:
    """RuntimeReleaseWaveCompleted: passed (every gate of the wave passed) or failed."""
    data = {"wave": wave, "waves": waves, "services": list(services), "verdict": verdict}
    return EventData(EventType.RUNTIME_RELEASE_WAVE_COMPLETED, data)
