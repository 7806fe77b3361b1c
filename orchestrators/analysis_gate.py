"""Metric analysis beside the health gate: at every gate of a rollout, once its health probes passed, and for a
while after promotion. Deterministic orchestrator code: only ``context`` calls, activities stamped by ``Flow``.

A gate's analysis measures each metric of ``Release.analysis_of(service)`` on the new revision, on the metric's
own interval: the first measurement one interval after the analysis starts (so its window holds traffic of this
step only), each later one an interval after the one before. The measurements due together run in parallel.
A metric that decided (``MetricTally``) is no longer measured; the analysis ends when ``analysis_verdict`` is no
longer measuring, and RuntimeAnalysisCompleted says why, naming the deciding metric, its value, threshold and
query. Then:

    analysis     | the gate
    ------------ | --------------------------------------------------------------------------------------------
    passed       | passes
    failed       | fails: the rollout rolls back with the analysis's reason
    inconclusive | holds (RuntimeAnalysisHeld, actionRequired): an operator approves (passes) or aborts (rolls
                 | back); with ``inconclusive.timeoutSeconds``, ``onTimeout`` decides once that long has passed

A hold never decides by itself before its timeout, and the progress deadline does not count the time spent
measuring or held (``Flow.not_progressing``). An operator's abort between measurements rolls back at once, as it
does during a pause.

After promotion (``afterPromotionSeconds > 0``): once every service passed its last gate and takes all the
production traffic, the services are measured together, as one more gate each, until that long has passed
*and* each metric's count is met, before any stable revision is retired or a promotion is recorded. The same
table applies; a failure rolls the whole release back. When several held services' policies differ, a hold
times out only if each has a timeout (at the latest of them), and rolls back if any says rollback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.analysis import measure_metric
from controlplane.domain import gate_events
from controlplane.domain.analysis import Measurement, MetricTally, Verdict, analysis_verdict, metric_reason
from controlplane.domain.manifest.analysis import Analysis, AnalysisMetric
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.analysis_requests import MeasureRequest
from controlplane.domain.workflow.service_segments import HeldGate
from orchestrators.flow import Decision, Flow, Task

RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=3)


@dataclass(frozen=True)
class _Lane:
    """One service's analysis at one gate; ``until``: after promotion, measure at least until then."""

    target: Target
    where: dict[str, Any]
    analysis: Analysis
    until: datetime | None = None

    def describe(self) -> str:
        return f"{self.target.service} at gate {self.where['gate']} ({self.where['step']})"


@dataclass
class _Series:
    """The measurements of one metric of one lane so far, and when the next is due."""

    lane: _Lane
    metric: AnalysisMetric
    due: datetime
    last_at: datetime
    tally: MetricTally = field(init=False)
    last: Measurement | None = None

    def __post_init__(self) -> None:
        self.tally = MetricTally(self.metric.name)

    def verdict(self) -> Verdict:
        """The tally's verdict; after promotion, a passed metric is measured on until the lane's time is up."""
        verdict = self.tally.verdict(self.metric)
        until = self.lane.until
        if verdict is Verdict.PASSED and until is not None and self.last_at < until:
            return Verdict.MEASURING
        return verdict

    def reason(self) -> str:
        return metric_reason(self.metric, self.tally, self.last, self.verdict())


def analyse(flow: Flow, target: Target, where: dict[str, Any]) -> Task:
    """The analysis of the gate ``where`` after its health probes passed, run in the service's sub-orchestration:
    ``(None, ())`` when the gate passes, ``(reason, ())`` to roll back, ``(None, held)`` when it is inconclusive
    (the release orchestration holds it: ``hold``). Nothing to do when the service has no analysis."""
    analysis = flow.release.analysis_of(target.service)
    if analysis is None:
        return None, ()
    failure, held = yield from _decided(flow, [_Lane(target, where, analysis)])
    return failure, tuple(HeldGate(lane.where, reason) for lane, reason in held)


def hold(flow: Flow, target: Target, held: Sequence[HeldGate]) -> Task:
    """Hold the inconclusive gates ``held`` of ``target``'s service for an operator (the table above): None to go
    on, else the reason to roll back."""
    analysis = flow.release.analysis_of(target.service)
    if analysis is None:  # the release says what was analysed: never the case for a gate that was held
        return None
    return (yield from _hold(flow, [(_Lane(target, gate.where, analysis), gate.reason) for gate in held]))


def analyse_after_promotion(flow: Flow, targets: Sequence[Target]) -> Task:
    """Measure the ``targets`` whose analysis has ``afterPromotionSeconds``, all traffic on their new revisions,
    as one more gate each: None when they pass, else the reason to roll the release back."""
    now = flow.context.current_utc_datetime
    lanes = []
    for target in targets:
        analysis = flow.release.analysis_of(target.service)
        if analysis is None or analysis.after_promotion_seconds <= 0:
            continue
        seconds = analysis.after_promotion_seconds
        number = flow.gates.get(target.service, 0) + 1
        flow.gates[target.service] = number
        step = f"after promotion: all traffic on the new revision for {seconds}s"
        where = gate_events.gate_of(target.service, target.new_revision, number, step)
        lanes.append(_Lane(target, where, analysis, now + timedelta(seconds=seconds)))
    if not lanes:
        return None
    return (yield from _judged(flow, lanes))


def _judged(flow: Flow, lanes: list[_Lane]) -> Task:
    """Measure, report and (if inconclusive) hold ``lanes``; the time spent is not progress-deadline time."""
    failure, held = yield from _decided(flow, lanes)
    if failure is None and held:
        started = flow.context.current_utc_datetime
        try:
            failure = yield from _hold(flow, held)
        finally:
            flow.not_progressing += flow.context.current_utc_datetime - started
    return failure


def _decided(flow: Flow, lanes: list[_Lane]) -> Task:
    """Measure and report ``lanes``: (the reason to roll back or None, the held lanes and why); the time spent is
    not progress-deadline time."""
    started = flow.context.current_utc_datetime
    try:
        series, aborted = yield from _measured(flow, lanes)
        if aborted is not None:
            return aborted, []
        return (yield from _completed(flow, lanes, series))
    finally:
        flow.not_progressing += flow.context.current_utc_datetime - started


def _measured(flow: Flow, lanes: list[_Lane]) -> Task:
    """Measure every lane's metrics until the lanes decided (or one failed): (the series, None), or (the series,
    the abort's reason) when an operator aborted between measurements."""
    context = flow.context
    now = context.current_utc_datetime
    series = [
        _Series(lane, metric, now + timedelta(seconds=lane.analysis.interval_of(metric)), now)
        for lane in lanes
        for metric in lane.analysis.metrics
    ]
    while True:
        verdicts = {id(lane): _lane_verdict(lane, series) for lane in lanes}
        if Verdict.FAILED in verdicts.values() or Verdict.MEASURING not in verdicts.values():
            return series, None
        active = [s for s in series if verdicts[id(s.lane)] is Verdict.MEASURING and s.verdict() is Verdict.MEASURING]
        at = min(s.due for s in active)
        due_in_activity = None  # a service's segment holds no signals: its activities wait, watching for a stop
        if at > context.current_utc_datetime:
            if not flow.takes_signals:
                due_in_activity = at
            elif aborted := (yield from flow.wait(context.create_timer(at))):
                return series, aborted
        due = [s for s in active if s.due <= at]
        results = yield from _measurements(flow, due, due_in_activity)
        if results is None:
            return series, "stopped: the release is rolling back"
        for measured, result in zip(due, results, strict=True):
            measured.tally = measured.tally.after(Verdict(result["verdict"]))
            measured.last = Measurement.from_dict(result["measurement"])
            measured.last_at = at
            measured.due = at + timedelta(seconds=measured.lane.analysis.interval_of(measured.metric))


def _measurements(flow: Flow, due: list[_Series], at: datetime | None) -> Task:
    """Measure the ``due`` series in parallel (each activity waiting until ``at`` first, if given, and called again
    while it still waits): their results in order, or None once the release stopped rolling out."""
    context = flow.context
    results: dict[int, dict[str, Any]] = {}
    waiting = list(range(len(due)))
    while waiting:
        calls = [context.call_activity_with_retry(measure_metric, RETRY, _request(flow, due[i], at)) for i in waiting]
        answers = yield context.task_all(calls)
        if any(answer.get("stopped") for answer in answers):
            return None
        results.update((i, answer) for i, answer in zip(waiting, answers, strict=True) if not answer.get("waiting"))
        waiting = [i for i, answer in zip(waiting, answers, strict=True) if answer.get("waiting")]
    return [results[i] for i in range(len(due))]


def _request(flow: Flow, series: _Series, due: datetime | None) -> dict[str, Any]:
    where, tally = series.lane.where, series.tally
    number = tally.passed + tally.failed + tally.inconclusive + 1
    return flow.stamped(
        MeasureRequest,
        target=series.lane.target,
        gate=where["gate"],
        step=where["step"],
        metric=series.metric.name,
        number=number,
        due=due,
    )


def _lane_verdict(lane: _Lane, series: list[_Series]) -> Verdict:
    return analysis_verdict(s.verdict() for s in series if s.lane is lane)


def _completed(flow: Flow, lanes: list[_Lane], series: list[_Series]) -> Task:
    """Emit each lane's RuntimeAnalysisCompleted; (the reason to roll back or None, the held lanes and why)."""
    failure = None
    held: list[tuple[_Lane, str]] = []
    for lane in lanes:
        own = [s for s in series if s.lane is lane]
        verdict = _lane_verdict(lane, own)
        deciding = [s.reason() for s in own if s.verdict() is verdict] if verdict is not Verdict.PASSED else []
        if verdict is Verdict.MEASURING:  # stopped undecided: another service's analysis failed first
            reason = "not decided: the analysis of another service failed first"
        else:
            reason = "; ".join(deciding or [s.reason() for s in own])
        tallies = [(s.tally, s.verdict()) for s in own]
        yield from flow.emit(gate_events.analysis_completed(lane.where, verdict, reason, tallies))
        if verdict is Verdict.FAILED and failure is None:
            failure = f"analysis failed for {lane.describe()}: {reason}"
        elif verdict is Verdict.INCONCLUSIVE:
            held.append((lane, reason))
    return failure, held


def _hold(flow: Flow, held: list[tuple[_Lane, str]]) -> Task:
    """Hold for an operator (RuntimeAnalysisHeld each; one wait): None to go on, else the reason to roll back."""
    for lane, reason in held:
        yield from flow.emit(gate_events.analysis_held(lane.where, reason, lane.analysis.inconclusive))
    policies = [lane.analysis.inconclusive for lane, _ in held]
    timeouts = [policy.timeout_seconds for policy in policies]
    until = None
    if all(seconds is not None for seconds in timeouts):
        until = flow.context.current_utc_datetime + timedelta(seconds=max(s for s in timeouts if s is not None))
    on_timeout = "rollback" if any(policy.on_timeout == "rollback" for policy in policies) else "continue"
    services = [lane.target.service for lane, _ in held]
    what = "the inconclusive analysis of " + ", ".join(lane.describe() for lane, _ in held)
    decision: Decision = yield from flow.wait_for_decision(what, services[0] if len(services) == 1 else None, until)
    if decision.resolution == "timed-out":
        action = on_timeout
    else:
        action = "continue" if decision.resolution == "approved" else "rollback"
    for lane, _ in held:
        resolved = gate_events.analysis_hold_resolved(lane.where, decision.resolution, action, decision.actor)
        yield from flow.emit(resolved)
    if action == "continue":
        return None
    if decision.abort is not None:
        return f"{decision.abort} ({what})"
    why = "; ".join(reason for _, reason in held)
    return f"{what} timed out after {max(s or 0 for s in timeouts)} s (onTimeout rollback): {why}"
