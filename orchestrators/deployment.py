"""The deployment orchestrator: one RuntimeDeployment through its state machine.

    Requested -> Provisioning -> Configuring -> RollingOut -> HealthGating -> Promoting -> Completed
                 Provisioning -> Failed;  RollingOut | HealthGating -> RollingBack -> RolledBack

Each service's rollout plan (controlplane.domain.rollout) runs in RollingOut up to its last health gate,
which runs in HealthGating; what follows (retiring the old revision) runs in Promoting. Gates probe
until successThreshold consecutive passes or failureThreshold consecutive failures, within the progress
deadline. A failed gate, a rollout error or an operator's abort rolls every service back to its stable
revision. Every step is recorded and emitted by activities; this function only decides. Promotion to prod
waits for an operator's approval, unless the start input says who approved it already (``preApproved``:
a drift finding an operator approved, or the failure monitor restoring the last Completed release).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any, TypeVar

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase, TimerTask

from activities.deployment import (
    apply_step,
    bind_configuration,
    emit_event,
    ensure_environment,
    plan_targets,
    probe_revision,
    promote,
    record_transition,
    roll_back,
)
from controlplane.domain import deployment_events
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.event_catalog import EventData
from controlplane.domain.health import HealthReport
from controlplane.domain.manifest import HealthGate, Release
from controlplane.domain.rollout import AwaitApproval, Pause, RunHealthGate, ScaleDownStableAfter, Step, plan_rollout
from controlplane.domain.rollout.gate import GateTally, GateVerdict
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.deployment_requests import (
    DeploymentRequest,
    EmitRequest,
    ProbeRequest,
    RollBackRequest,
    StepRequest,
    TargetRequest,
    TransitionRequest,
)
from controlplane.domain.workflow.deployment_start import DeploymentStart
from orchestrators.clock import StepClock

bp = df.Blueprint()
DEPLOYMENT_ORCHESTRATOR = "deployment"
S = DeploymentState
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=3)
STATUS_REASON_CHARS = 500  # of a reason in the custom status
Task = Generator[Any, Any, Any]
Request = TypeVar("Request", bound=DeploymentRequest)


class Flow:
    """Stamps every activity request with the deployment and trace ids, a deterministic time and event id."""

    def __init__(self, context: df.DurableOrchestrationContext, start: DeploymentStart) -> None:
        self.context = context
        self.deployment_id = start.deployment_id
        self.traceid = start.trace_id
        self.release = start.release
        self._clock = StepClock(context)

    def stamped(self, request: type[Request], **fields: Any) -> dict[str, Any]:
        """A ``request`` to an activity, on the wire (the time comes before the event id: replays repeat both)."""
        at = self._clock.next()
        stamp = request(self.deployment_id, self.traceid, at, self.context.new_uuid(), **fields)
        return stamp.to_dict()

    def move(self, state: DeploymentState, reason: str = "") -> Task:
        # The custom status must stay under the extension's 16 KB or the orchestration fails: the reason is cut
        # short there; the transition records all of it.
        self.context.set_custom_status({"state": state.value, "reason": _brief(reason)})
        yield self.context.call_activity(record_transition, self.stamped(TransitionRequest, to=state, reason=reason))

    def emit(self, event: EventData) -> Task:
        yield self.context.call_activity(emit_event, self.stamped(EmitRequest, event=event))


@bp.function_name(DEPLOYMENT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def deployment(context: df.DurableOrchestrationContext) -> Task:
    start = DeploymentStart.from_dict(context.get_input())
    release = start.release
    flow = Flow(context, start)
    environment = release.spec.environment.name
    yield from flow.emit(deployment_events.requested(release))
    yield from flow.move(S.PROVISIONING)
    try:
        yield context.call_activity_with_retry(ensure_environment, RETRY, flow.stamped(DeploymentRequest))
    except Exception as error:
        reason = f"provisioning failed: {_first_line(error)}"
        yield from flow.move(S.FAILED, reason)
        yield from flow.emit(deployment_events.failed(reason))
        return {"state": S.FAILED.value, "reason": reason}
    yield from flow.move(S.CONFIGURING)
    try:
        yield context.call_activity_with_retry(bind_configuration, RETRY, flow.stamped(DeploymentRequest))
        planned = yield context.call_activity(plan_targets, flow.stamped(DeploymentRequest))
        targets = [Target.from_dict(t) for t in planned]
    except Exception as error:  # nothing rolled out yet: end the deployment (and free its services) cleanly
        reason = f"configuration failed: {_first_line(error)}"
        yield from flow.move(S.ROLLING_OUT, reason)
        return (yield from _roll_back(flow, [], reason))
    plans = {t.service: _split(_plan(release, t)) for t in targets}
    gate = release.spec.health_gate
    deadline = context.current_utc_datetime + timedelta(seconds=gate.progress_deadline_seconds)

    yield from flow.move(S.ROLLING_OUT)
    failure = None
    for target in targets:
        failure = yield from _run_steps(flow, target, plans[target.service][0], gate, deadline)
        if failure:
            break
    if failure is None:
        yield from flow.move(S.HEALTH_GATING)
        for target in targets:
            if plans[target.service][1]:
                failure = yield from _run_gate(flow, target, gate, deadline)
                if failure:
                    break
    if failure is None and release.spec.environment.tier == "prod" and not start.pre_approved:
        context.set_custom_status({"state": S.HEALTH_GATING.value, "waiting": "approve", "for": "promotion to prod"})
        failure = yield from _wait(flow, context.wait_for_external_event("approve"))
    if failure is not None:
        return (yield from _roll_back(flow, targets, failure))

    yield from flow.move(S.PROMOTING)
    delayed: list[tuple[Target, ScaleDownStableAfter]] = []
    for target in targets:
        for step in plans[target.service][2]:
            if isinstance(step, ScaleDownStableAfter):
                delayed.append((target, step))
            elif not isinstance(step, Pause | AwaitApproval | RunHealthGate):
                yield context.call_activity_with_retry(apply_step, RETRY, _step_request(flow, target, step))
        yield context.call_activity(promote, flow.stamped(TargetRequest, target=target))
    yield from flow.move(S.COMPLETED)
    yield from flow.emit(deployment_events.completed(environment, {t.service: t.new_revision for t in targets}))
    for target, step in delayed:  # blue-green keeps the old revision a while, so a rollback is instant
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=step.seconds))
        yield context.call_activity_with_retry(apply_step, RETRY, _step_request(flow, target, step))
    return {"state": S.COMPLETED.value}


def _plan(release: Release, target: Target) -> list[Step]:
    return plan_rollout(release.spec.strategy, target.desired, target.stable_replicas, release.spec.environment.compute)


def _split(plan: list[Step]) -> tuple[list[Step], bool, list[Step]]:
    """(steps up to the last gate, whether there is a last gate, steps after it)."""
    gates = [index for index, step in enumerate(plan) if isinstance(step, RunHealthGate)]
    if not gates:
        return plan, False, []
    return plan[: gates[-1]], True, plan[gates[-1] + 1 :]


def _run_steps(flow: Flow, target: Target, steps: list[Step], gate: HealthGate, deadline: datetime) -> Task:
    """Run plan steps; return the reason to roll back, or None."""
    context = flow.context
    for step in steps:
        if isinstance(step, RunHealthGate):
            failure = yield from _run_gate(flow, target, gate, deadline)
        elif isinstance(step, Pause):
            until = context.current_utc_datetime + timedelta(seconds=step.seconds)
            failure = yield from _wait(flow, context.create_timer(until))
        elif isinstance(step, AwaitApproval):
            context.set_custom_status({"state": S.ROLLING_OUT.value, "waiting": "approve", "service": target.service})
            failure = yield from _wait(flow, context.wait_for_external_event("approve"))
        else:
            try:
                outcome = yield context.call_activity_with_retry(apply_step, RETRY, _step_request(flow, target, step))
                failure = f"rollout of {target.service} failed at {step}: {outcome['error']}" if outcome else None
            except Exception as error:  # still failing after the retries for transient errors
                failure = f"rollout of {target.service} failed at {step}: {_first_line(error)}"
        if failure:
            return failure
    return None


def _wait(flow: Flow, waiting: TaskBase) -> Task:
    """Wait for a timer or an approval unless an operator aborts first."""
    abort = flow.context.wait_for_external_event("abort")
    winner = yield flow.context.task_any([waiting, abort])
    if winner != abort:
        return None
    if isinstance(waiting, TimerTask):
        waiting.cancel()
    return f"aborted by an operator: {_signal_text(abort.result) or 'no reason given'}"


def _signal_text(data: object) -> str:
    """The text an operator's signal carries.

    The SDK's ``raise_event`` JSON-encodes its data and then posts that string as JSON, and the Durable
    extension keeps the string as the event's value, so on Azure ``"wrong build"`` arrives with its quotes
    (azure-functions-durable-python issue #295); a caller posting to the HTTP API itself sends it once.
    """
    if isinstance(data, str):
        raw = data
        try:
            data = json.loads(raw)
        except ValueError:
            return raw
    return "" if data is None else str(data)


def _run_gate(flow: Flow, target: Target, gate: HealthGate, deadline: datetime) -> Task:
    """Probe until the gate passes (None) or fails (the reason)."""
    context = flow.context
    tally = GateTally()
    while True:
        if context.current_utc_datetime > deadline:
            return f"progress deadline of {gate.progress_deadline_seconds} s exceeded while gating {target.service}"
        probed = yield context.call_activity(probe_revision, flow.stamped(ProbeRequest, target=target))
        report = HealthReport.from_dict(probed)
        tally = tally.after(report, gate)
        verdict = tally.verdict(gate)
        if verdict is GateVerdict.PASSED:
            return None
        if verdict is GateVerdict.FAILED:
            return f"health gate failed for {target.service}: {report.summary()}"
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=gate.interval_seconds))


def _roll_back(flow: Flow, targets: list[Target], reason: str) -> Task:
    context = flow.context
    yield from flow.move(S.ROLLING_BACK, reason)
    for target in targets:
        request = flow.stamped(RollBackRequest, target=target, reason=reason)
        yield context.call_activity_with_retry(roll_back, RETRY, request)
    restored_health = {}
    for target in targets:
        if target.stable_revision is not None:
            probed = yield context.call_activity(probe_revision, flow.stamped(ProbeRequest, target=target, stable=True))
            restored_health[target.service] = HealthReport.from_dict(probed).status.value
    restored = next((t.stable_deployment for t in targets if t.stable_deployment), None)
    unrestored = [t.service for t in targets if t.stable_revision is None]
    if restored is None:
        # A first release: its new revisions are at zero and nothing earlier serves. An operator decides.
        failure = f"nothing to restore for {', '.join(unrestored)}: {reason}" if unrestored else reason
        yield from flow.move(S.FAILED, failure)
        yield from flow.emit(deployment_events.failed(failure))
        incident = deployment_events.incident_raised(
            incident_id=f"incident-{flow.deployment_id}",
            reason=failure,
            environment=flow.release.spec.environment.name,
            services=[service.name for service in flow.release.spec.services],
            deployment_id=flow.deployment_id,
            traceid=flow.traceid,
            chain=None,
        )
        yield from flow.emit(incident)
        return {"state": S.FAILED.value, "reason": failure}
    yield from flow.move(S.ROLLED_BACK, reason)
    yield from flow.emit(deployment_events.rolled_back(reason, restored, restored_health, unrestored))
    return {"state": S.ROLLED_BACK.value, "reason": reason}


def _step_request(flow: Flow, target: Target, step: Step) -> dict[str, Any]:
    return flow.stamped(StepRequest, target=target, step=step)


def _brief(text: str) -> str:
    return text if len(text) <= STATUS_REASON_CHARS else text[: STATUS_REASON_CHARS - 1] + "…"


def _first_line(error: Exception) -> str:
    """The failure's first line: the SDK joins the extension's reason and details as "{reason} \n {details}"."""
    text = str(error).strip()
    return text.splitlines()[0].rstrip() if text else type(error).__name__
