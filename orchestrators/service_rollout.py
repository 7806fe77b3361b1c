"""A service's rollout segment as its own sub-orchestration: the release orchestration (orchestrators.deployment)
fans its services out to these, so no history holds more than one service's steps, and the services of a wave
roll out in parallel.

A segment (``controlplane.domain.rollout.segments``) runs without waiting for anyone: the service's pre-rollout
webhooks (on its first segment), its compute steps in batches (one ``apply_steps`` activity each) and its gates,
each gate one ``run_health_gate`` activity that probes until it decides, then the gate's webhooks, then its metric
analysis. Pauses and approvals are the release orchestration's, between segments: it holds the signals and what
an operator sees waiting. An inconclusive analysis ends the segment with the gate held; the release orchestration
holds it and goes on with the rest of the segment.

Every activity here records its own events and progress. The release orchestration stops the services by
recording RollingBack: the activities see it (a batch applies nothing, a gate stops probing, a measurement
measures nothing) and the segment ends at once with "stopped", so no step of a service is ever taken while
the release orchestration rolls it back. The segment never fails: whatever raises ends it with the reason to
roll back, as the release orchestration's own code ends every deployment.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.deployment import apply_steps, run_health_gate
from controlplane.domain import gate_events
from controlplane.domain.rollout import RunHealthGate, Step
from controlplane.domain.rollout.gate import GateVerdict
from controlplane.domain.rollout.segments import batches
from controlplane.domain.workflow.deployment_requests import GateRequest, StepsRequest
from controlplane.domain.workflow.service_segments import HeldGate, SegmentOutcome, SegmentStart
from controlplane.errors import first_line
from orchestrators import analysis_gate, webhook_calls
from orchestrators.flow import Flow, Task

bp = df.Blueprint()
SERVICE_ROLLOUT_ORCHESTRATOR = "service_rollout"
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=3)
STOPPED = "stopped: the release is rolling back"


@bp.function_name(SERVICE_ROLLOUT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def service_rollout(context: df.DurableOrchestrationContext) -> Task:
    segment = SegmentStart.from_dict(context.get_input())
    flow = Flow(context, segment.start, takes_signals=False)
    try:
        outcome = yield from _run(flow, segment)
    except Exception as error:  # the release orchestration rolls back with this reason; this one never fails
        outcome = SegmentOutcome(f"rollout of {segment.target.service} failed: {first_line(error)}")
    return outcome.to_dict()


def _run(flow: Flow, segment: SegmentStart) -> Task:
    target = segment.target
    if segment.pre_rollout and (failure := (yield from webhook_calls.pre_rollout(flow, target))):
        return SegmentOutcome(failure)
    number = segment.first_gate - 1
    for batch in batches(segment.steps):
        if isinstance(batch, RunHealthGate):
            number += 1
            failure, held = yield from _gate(flow, segment, batch, number)
            if failure or held:
                return _outcome(flow, failure, held, number)
        elif failure := (yield from _apply(flow, segment, batch)):
            return _outcome(flow, failure, (), number)
    return _outcome(flow, None, (), number)


def _outcome(flow: Flow, failure: str | None, held: tuple[HeldGate, ...], number: int) -> SegmentOutcome:
    return SegmentOutcome(failure, held, number, flow.not_progressing.total_seconds())


def _apply(flow: Flow, segment: SegmentStart, steps: tuple[Step, ...]) -> Task:
    """One batch of compute steps; the reason to roll back, or None."""
    target = segment.target
    described = ", ".join(str(step) for step in steps)
    try:
        request = flow.stamped(StepsRequest, target=target, steps=steps)
        outcome = yield flow.context.call_activity_with_retry(apply_steps, RETRY, request)
    except Exception as error:  # still failing after the retries for transient errors
        return f"rollout of {target.service} failed at {described}: {first_line(error)}"
    if "error" in outcome:
        return f"rollout of {target.service} failed at {described}: {outcome['error']}"
    return None if outcome["applied"] else STOPPED


def _gate(flow: Flow, segment: SegmentStart, step: RunHealthGate, number: int) -> Task:
    """Gate ``number``: the health gate, then its webhooks, then the metric analysis; (the reason to roll back or
    None, the gates held)."""
    target = segment.target
    flow.gates[target.service] = number
    where = gate_events.gate_of(target.service, target.new_revision, number, step.reason)
    failure = yield from _health_gate(flow, segment, where)
    if failure is None:
        failure = yield from webhook_calls.at_gate(flow, target, number, step.reason)
    if failure is not None:
        return failure, ()
    return (yield from analysis_gate.analyse(flow, target, where))


def _health_gate(flow: Flow, segment: SegmentStart, where: dict[str, Any]) -> Task:
    """The health gate: one activity that probes until it decides, called again while it is still probing when its
    time is up; None when it passed, else the reason to roll back. The progress deadline does not count the time
    this service spent in metric analysis."""
    tally = {"successes": 0, "failures": 0, "probes": 0}
    deadline = segment.deadline + flow.not_progressing
    while True:
        gating = segment.gating if where["gate"] == segment.gating_gate else None
        request = flow.stamped(
            GateRequest, target=segment.target, where=where, deadline=deadline, gating=gating, **tally
        )
        try:
            result = yield flow.context.call_activity_with_retry(run_health_gate, RETRY, request)
        except Exception as error:
            return f"health gate for {segment.target.service} could not run: {first_line(error)}"
        verdict = result["verdict"]
        if verdict == GateVerdict.PASSED:
            return None
        if verdict == GateVerdict.FAILED:
            return str(result["reason"])
        if verdict != GateVerdict.PROBING:
            return STOPPED
        tally = {key: int(result[key]) for key in tally}
