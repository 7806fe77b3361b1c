"""A gate's verdict and the line that decided it (``why``), from what its events said (``GateEvents``).

    what the gate's events say                                          | verdict | why
    ------------------------------------------------------------------- | ------- | ---------------------------------
    analysis failed / health failed / a webhook "rolls back" /          | failed  | each failing part, joined by "; "
      an inconclusive hold resolved with action rollback                |         |
    an inconclusive hold not resolved                                   | held    | the metrics without a value
    health passed (or none: an analysis-only gate) and analysis passed  | passed  | what passed
      (or none, or a hold resolved with action continue)                |         |
    otherwise                                                           | running | what is still undecided

A metric is said in a few words: failed ``request-success-rate 0.8 < min 0.95``, inconclusive
``request-success-rate had no value 2 time(s) (no requests in 30s)``, passed ``request-success-rate 3/3 >= 0.95``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlplane.domain.explanation import Analysis, Gate, Health, Hold, Hook, Measured, Metric


class GateEvents:
    """What one gate's events said so far."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.number: int | None = data.get("gate")
        self.step: str = data.get("step") or ""
        self.revision: str | None = data.get("revision")
        self.health: Health | None = None
        self.analysis: Mapping[str, Any] | None = None
        self.measured: dict[str, list[Mapping[str, Any]]] = {}
        self.hooks: list[Hook] = []
        self.hold: Hold | None = None


def judge(events: GateEvents) -> Gate:
    """The gate's verdict and why (the module table)."""
    metrics = tuple(_metric(name, measured, events.analysis) for name, measured in events.measured.items())
    analysis = None
    if events.analysis is not None or metrics:
        completed = events.analysis or {}
        analysis = Analysis(completed.get("verdict", "measuring"), completed.get("reason", ""), metrics)
    health, hold = events.health, events.hold
    failures = _failures(health, analysis, events.hooks, hold)
    if failures:
        verdict, why = "failed", "; ".join(failures)
    elif analysis and analysis.verdict == "inconclusive" and (hold is None or hold.resolution is None):
        verdict, why = "held", _held(analysis, hold)
    elif (health or analysis) and (health is None or health.verdict == "passed") and _analysis_done(analysis, hold):
        verdict, why = "passed", "; ".join(_passes(health, analysis, hold))
    else:
        pending = ["health probing"] if health is None else []
        pending += [f"{m.metric} measuring" for m in (analysis.metrics if analysis else ()) if m.verdict == "measuring"]
        verdict, why = "running", ", ".join(pending) or "deciding"
    return Gate(events.number, events.step, events.revision, verdict, why, health, analysis, tuple(events.hooks), hold)


def _failures(health: Health | None, analysis: Analysis | None, hooks: list[Hook], hold: Hold | None) -> list[str]:
    failures = []
    if analysis and analysis.verdict == "failed":
        failures.append("analysis failed: " + _metric_lines(analysis, "failed", analysis.reason))
    if health and health.verdict == "failed":
        last = f" (last probe: {health.last})" if health.last and health.last not in health.reason else ""
        failures.append(f"health failed: {health.reason}{last}")
    failures += [
        f"webhook failed: {h.hook} ({h.type}) {answer(h)}, {h.effect}" for h in hooks if h.effect == "rolls back"
    ]
    if hold and hold.action == "rollback":
        failures.append(f"held: analysis inconclusive ({hold.reason}), then {hold.resolution}{_by(hold)}: rolled back")
    return failures


def _held(analysis: Analysis, hold: Hold | None) -> str:
    metrics = _metric_lines(analysis, "inconclusive", hold.reason if hold else analysis.reason)
    timeout = f" ({hold.on_timeout} after {hold.timeout_seconds} s)" if hold and hold.timeout_seconds else ""
    return f"analysis inconclusive: {metrics}; waiting for an operator's approve or abort{timeout}"


def _analysis_done(analysis: Analysis | None, hold: Hold | None) -> bool:
    """No analysis, one that passed, or an inconclusive one an operator (or the timeout) let continue."""
    return analysis is None or analysis.verdict == "passed" or (hold is not None and hold.action == "continue")


def _passes(health: Health | None, analysis: Analysis | None, hold: Hold | None) -> list[str]:
    parts = []
    if health:
        parts.append(f"health passed ({health.reason})" if health.reason else "health passed")
    if analysis and hold:
        parts.append(f"analysis inconclusive, then {hold.resolution}{_by(hold)}: continued")
    elif analysis:
        parts.append("analysis passed: " + _metric_lines(analysis, "passed", analysis.reason))
    return parts


def _metric(name: str, measured: list[Mapping[str, Any]], completed: Mapping[str, Any] | None) -> Metric:
    tallies = {tally.get("metric"): tally for tally in (completed or {}).get("metrics") or []}
    first, threshold = measured[0], measured[0].get("threshold") or {}
    lines = tuple(
        Measured(
            m.get("measurement") or n,
            m.get("value"),
            m["verdict"],
            m.get("query") or "",
            m.get("error"),
            m.get("samples"),
        )
        for n, m in enumerate(measured, start=1)
    )
    verdict = (tallies.get(name) or {}).get("verdict", "measuring")
    return Metric(
        name, first["provider"], threshold.get("shown", ""), threshold.get("min"), threshold.get("max"), verdict, lines
    )


def _metric_lines(analysis: Analysis, verdict: str, fallback: str) -> str:
    """Each metric with ``verdict`` in a few words: ``request-success-rate 0.8 < min 0.95``."""
    said = [_metric_said(metric) for metric in analysis.metrics if metric.verdict == verdict]
    return ", ".join(said) or fallback


def _metric_said(metric: Metric) -> str:
    verdicts = [m.verdict for m in metric.measurements]
    if metric.verdict == "inconclusive":
        errors = [m.error for m in metric.measurements if m.value is None and m.error]
        return f"{metric.metric} had no value {verdicts.count('inconclusive')} time(s)" + (
            f" ({errors[-1]})" if errors else ""
        )
    if metric.verdict == "failed":
        bad = [m for m in metric.measurements if m.verdict == "failed"]
        last = bad[-1] if bad else metric.measurements[-1]
        times = f" ({len(bad)} of {len(verdicts)} measurements failed)" if len(bad) > 1 else ""
        return f"{metric.metric} {_relation(metric, last.value)}{times}"
    return f"{metric.metric} {verdicts.count('passed')}/{len(verdicts)} {metric.threshold}"


def _relation(metric: Metric, value: float | None) -> str:
    if value is None:
        return "no value"
    if metric.min is not None and value < metric.min:
        return f"{number(value)} < min {number(metric.min)}"
    if metric.max is not None and value > metric.max:
        return f"{number(value)} > max {number(metric.max)}"
    return f"{number(value)} {metric.threshold}"


def number(value: float) -> str:
    """A measured value as people read it: 4 significant digits (0.8, 0.9512, 312.5)."""
    return f"{value:.4g}"


def at_gate(service: str, gate: Gate) -> str:
    cause, _, detail = gate.why.partition(": ")
    where = f"gate {gate.number} ({gate.step})" if gate.number is not None else "its health gate"
    return f"{cause} for {service} at {where}" + (f": {detail}" if detail else "")


def answer(hook: Hook) -> str:
    said = f"HTTP {hook.status}" if hook.status is not None else f"no answer ({hook.error or 'no status'})"
    return said + (f" after {hook.attempts} attempts" if hook.attempts > 1 else "")


def _by(hold: Hold) -> str:
    return f" by {hold.by}" if hold.by else ""
