"""The deployment orchestrator: one RuntimeDeployment through its state machine.

    Requested -> Provisioning -> Configuring -> RollingOut -> HealthGating -> Promoting -> Completed
                 Provisioning -> Failed;  RollingOut | HealthGating -> RollingBack -> RolledBack

Each service's rollout plan (controlplane.domain.rollout) runs in RollingOut up to its last health gate,
which runs in HealthGating; what follows (retiring the old revision) runs in Promoting. Services with
``dependsOn`` roll out in waves (orchestrators.waves): a wave's services run their steps and last gates before
the next wave starts, in RollingOut but for the last wave's last gates. Gates probe until successThreshold
consecutive passes or failureThreshold consecutive failures, within the progress deadline, then call their
webhooks (orchestrators.webhook_calls, as are pre-rollout, confirm-promotion and post-rollout hooks). A failed
gate or webhook, a rollout error or an operator's abort rolls every service of the release back to its stable
revision. Every step is recorded and emitted by activities; this function only decides. Promotion to prod
waits for an operator's approval, unless the start input says who approved it already (``preApproved``:
a drift finding an operator approved, or the failure monitor restoring the last Completed release).

Every deployment ends here, whatever fails: a step's failure is handled where it happens (provisioning and
configuration fail the deployment, a rollout step rolls back, a probe that could not run is an Unhealthy probe),
and anything else that raises ends the deployment from the state it was last recorded in (``_end_after``), so
the orchestration itself never fails and its output never carries a traceback. What ends an orchestration from
outside (terminate, purge) is the reconciler's (controlplane.services.reconciler).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.deployment import (
    apply_step,
    bind_configuration,
    ensure_environment,
    plan_targets,
    probe_revision,
    promote,
    roll_back,
)
from controlplane.domain import deployment_events, gate_events
from controlplane.domain.deployment import DEPLOYMENT_MACHINE, DeploymentState
from controlplane.domain.health import HealthReport, ProbeFailure, report_for_probe_error
from controlplane.domain.manifest import HealthGate
from controlplane.domain.rollout import AwaitApproval, Pause, RunHealthGate, ScaleDownStableAfter, Step
from controlplane.domain.rollout.gate import GateTally, GateVerdict
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.deployment_requests import (
    DeploymentRequest,
    ProbeRequest,
    RollBackRequest,
    StepRequest,
    TargetRequest,
)
from controlplane.domain.workflow.deployment_start import DeploymentStart
from orchestrators import analysis_gate, webhook_calls
from orchestrators.flow import Flow, Task
from orchestrators.waves import ServicePlan, roll_out_in_waves

bp = df.Blueprint()
log = logging.getLogger(__name__)
DEPLOYMENT_ORCHESTRATOR = "deployment"
S = DeploymentState
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=3)
ROLLED_OUT = frozenset({S.ROLLING_OUT, S.HEALTH_GATING, S.PROMOTING})


@bp.function_name(DEPLOYMENT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def deployment(context: df.DurableOrchestrationContext) -> Task:
    start = DeploymentStart.from_dict(context.get_input())
    flow = Flow(context, start)
    try:
        return (yield from _deploy(flow, start))
    except Exception as error:  # whatever failed, the deployment must end (and free its services)
        return (yield from _end_after(flow, error))


def _deploy(flow: Flow, start: DeploymentStart) -> Task:
    context = flow.context
    release = start.release
    environment = release.spec.environment.name
    yield from flow.emit(deployment_events.requested(release, start.requested_by))
    yield from flow.move(S.PROVISIONING)
    try:
        yield context.call_activity_with_retry(ensure_environment, RETRY, flow.stamped(DeploymentRequest))
    except Exception as error:
        return (yield from _fail(flow, f"provisioning failed: {_first_line(error)}"))
    yield from flow.move(S.CONFIGURING)
    try:
        yield context.call_activity_with_retry(bind_configuration, RETRY, flow.stamped(DeploymentRequest))
        planned = yield context.call_activity(plan_targets, flow.stamped(DeploymentRequest))
        targets = [Target.from_dict(t) for t in planned]
    except Exception as error:  # nothing rolled out yet: end the deployment (and free its services) cleanly
        return (yield from _fail(flow, f"configuration failed: {_first_line(error)}"))
    flow.targets = targets
    plans = {t.service: ServicePlan.of(release, t) for t in targets}
    gate = release.spec.health_gate
    deadline = context.current_utc_datetime + timedelta(seconds=gate.progress_deadline_seconds)

    def roll_out_wave(wave: list[Target], last: bool) -> Task:
        return _roll_out_wave(flow, wave, plans, gate, deadline, last)

    yield from flow.move(S.ROLLING_OUT)
    failure = yield from roll_out_in_waves(flow, targets, roll_out_wave)
    if failure is None:
        failure = yield from webhook_calls.confirm_promotion(flow, targets)
    if failure is None and release.spec.environment.tier == "prod" and not start.pre_approved:
        failure = yield from flow.wait_for_approval("promotion to prod")
    if failure is not None:
        return (yield from _roll_back(flow, targets, failure))

    yield from flow.move(S.PROMOTING)
    gated = [target for target in targets if plans[target.service].last_gate is not None]
    if failure := (yield from analysis_gate.analyse_after_promotion(flow, gated)):
        return (yield from _roll_back(flow, targets, failure))
    delayed: list[tuple[Target, ScaleDownStableAfter]] = []
    for target in targets:
        for step in plans[target.service].after:
            if isinstance(step, ScaleDownStableAfter):
                delayed.append((target, step))
            elif not isinstance(step, Pause | AwaitApproval | RunHealthGate):
                yield context.call_activity_with_retry(apply_step, RETRY, _step_request(flow, target, step))
        yield context.call_activity(promote, flow.stamped(TargetRequest, target=target))
        flow.promoted.append(target.service)
    completed = deployment_events.completed(environment, {t.service: t.new_revision for t in targets})
    yield from flow.move(S.COMPLETED, closing=[completed])
    yield from webhook_calls.post_rollout(flow, S.COMPLETED)
    for target, step in delayed:  # blue-green keeps the old revision a while, so a rollback is instant
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=step.seconds))
        yield context.call_activity_with_retry(apply_step, RETRY, _step_request(flow, target, step))
    return {"state": S.COMPLETED.value}


def _end_after(flow: Flow, error: Exception) -> Task:
    """End the deployment after a failure no step handled, from the state it was last recorded in.

    last recorded state                  | ends
    -------------------------------------+---------------------------------------------------------
    Requested, Provisioning, Configuring | Failed: nothing was rolled out
    RollingOut, HealthGating, Promoting  | rolled back (RolledBack, or Failed with nothing to restore)
    RollingBack                          | Failed with an incident: the rollback itself failed
    Completed, RolledBack, Failed        | stays: the failure came after the end (a delayed scale-down)
    """
    state = flow.state
    reason = f"{state.value} failed: {_first_line(error)}"
    if not flow.context.is_replaying:
        log.error("deployment %s (trace %s): %s", flow.deployment_id, flow.traceid, reason)
    if DEPLOYMENT_MACHINE.is_terminal(state):
        return {"state": state.value}
    if state in ROLLED_OUT:
        if flow.promoted:
            reason = f"{reason}; promoted already, kept: {', '.join(flow.promoted)}"
        unpromoted = [target for target in flow.targets if target.service not in flow.promoted]
        return (yield from _roll_back(flow, unpromoted, reason))
    if state is S.ROLLING_BACK:
        return (yield from _fail(flow, f"rollback failed: {_first_line(error)}", incident=True))
    return (yield from _fail(flow, reason))


def _roll_out_wave(
    flow: Flow, wave: list[Target], plans: dict[str, ServicePlan], gate: HealthGate, deadline: datetime, last: bool
) -> Task:
    """Roll out one wave (orchestrators.waves): each service's pre-rollout hooks and steps up to its last gate,
    then (in HealthGating for the last wave) each service's last gate; the reason to roll back, or None."""
    for target in wave:
        failure = yield from webhook_calls.pre_rollout(flow, target)
        if not failure:
            failure = yield from _run_steps(flow, target, plans[target.service].steps, gate, deadline)
        if failure:
            return failure
    if last:
        yield from flow.move(S.HEALTH_GATING)
    for target in wave:
        plan = plans[target.service]
        if plan.last_gate:
            failure = yield from _run_gate(flow, target, plan.last_gate, plan.last_gate_number, gate, deadline)
            if failure:
                return failure
    return None


def _run_steps(flow: Flow, target: Target, steps: list[Step], gate: HealthGate, deadline: datetime) -> Task:
    """Run plan steps; return the reason to roll back, or None."""
    context = flow.context
    gates = 0  # the gate's number among the plan's gates, from 1
    for step in steps:
        if isinstance(step, RunHealthGate):
            gates += 1
            failure = yield from _run_gate(flow, target, step, gates, gate, deadline)
        elif isinstance(step, Pause):
            until = context.current_utc_datetime + timedelta(seconds=step.seconds)
            failure = yield from flow.wait(context.create_timer(until))
        elif isinstance(step, AwaitApproval):
            failure = yield from flow.wait_for_approval(f"the next rollout step of {target.service}", target.service)
        else:
            try:
                outcome = yield context.call_activity_with_retry(apply_step, RETRY, _step_request(flow, target, step))
                failure = f"rollout of {target.service} failed at {step}: {outcome['error']}" if outcome else None
            except Exception as error:  # still failing after the retries for transient errors
                failure = f"rollout of {target.service} failed at {step}: {_first_line(error)}"
        if failure:
            return failure
    return None


def _run_gate(
    flow: Flow, target: Target, step: RunHealthGate, number: int, gate: HealthGate, deadline: datetime
) -> Task:
    """Gate ``number`` of the service's plan, named by its step: probe until the health gate passes, then its
    webhooks (webhook_calls), then the metric analysis (analysis_gate); None when the gate passes, else the
    reason to roll back."""
    flow.gates[target.service] = number  # an after-promotion analysis is numbered after the service's last gate
    where = gate_events.gate_of(target.service, target.new_revision, number, step.reason)
    failure = yield from _health_gate(flow, target, gate, deadline, where)
    if failure is None:
        failure = yield from webhook_calls.at_gate(flow, target, number, step.reason)
    if failure is None:
        failure = yield from analysis_gate.analyse(flow, target, where)
    return failure


def _health_gate(flow: Flow, target: Target, gate: HealthGate, deadline: datetime, where: dict[str, Any]) -> Task:
    """Probe until the health gate passes (None) or fails (the reason); RuntimeHealthGateCompleted says which. The
    progress deadline does not count the time spent in metric analysis and holds (``Flow.not_progressing``)."""
    context = flow.context
    tally = GateTally()
    while True:
        if context.current_utc_datetime > deadline + flow.not_progressing:
            failure = f"progress deadline of {gate.progress_deadline_seconds} s exceeded while gating {target.service}"
            yield from _gate_decided(flow, where, GateVerdict.FAILED, tally, failure)
            return failure
        report = yield from _probe(flow, target)
        tally = tally.after(report, gate)
        verdict = tally.verdict(gate)
        if verdict is not GateVerdict.PROBING:
            yield from _gate_decided(flow, where, verdict, tally, _probes_reason(report, tally, gate))
        if verdict is GateVerdict.PASSED:
            return None
        if verdict is GateVerdict.FAILED:
            return f"health gate failed for {target.service}: {report.summary()}"
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=gate.interval_seconds))


def _gate_decided(flow: Flow, where: dict[str, Any], verdict: GateVerdict, tally: GateTally, reason: str) -> Task:
    decided = gate_events.health_gate_completed(where, verdict.value, tally.successes, tally.failures, reason)
    yield from flow.emit(decided)


def _probes_reason(report: HealthReport, tally: GateTally, gate: HealthGate) -> str:
    if tally.successes:
        return (
            f"{report.summary()} ({tally.successes} passing probes in a row, successThreshold {gate.success_threshold})"
        )
    return f"{report.summary()} ({tally.failures} failing probes in a row, failureThreshold {gate.failure_threshold})"


def _probe(flow: Flow, target: Target, stable: bool = False) -> Task:
    """One probe's report; a probe activity that failed is an Unhealthy probe (a measurement error), not a crash."""
    try:
        request = flow.stamped(ProbeRequest, target=target, stable=stable)
        return HealthReport.from_dict((yield flow.context.call_activity(probe_revision, request)))
    except Exception as error:
        return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"probe failed: {_first_line(error)}")


def _roll_back(flow: Flow, targets: list[Target], reason: str) -> Task:
    """Put ``targets`` back on their stable revisions (a service of a wave that never started stays as it runs),
    probe those, end RolledBack (or Failed: nothing to restore, or the rollback failed), then call the
    post-rollout hooks."""
    ended = yield from _restore(flow, targets, reason)
    yield from webhook_calls.post_rollout(flow, flow.state)
    return ended


def _restore(flow: Flow, targets: list[Target], reason: str) -> Task:
    context = flow.context
    yield from flow.move(S.ROLLING_BACK, reason)
    for target in targets:
        request = flow.stamped(RollBackRequest, target=target, reason=reason)
        try:
            yield context.call_activity_with_retry(roll_back, RETRY, request)
        except Exception as error:
            failure = f"rollback of {target.service} failed: {_first_line(error)}; it was rolling back because {reason}"
            return (yield from _fail(flow, failure, incident=True))
    restored_health = {}
    for target in targets:
        if target.stable_revision is not None:
            restored_health[target.service] = (yield from _probe(flow, target, stable=True)).status.value
    restored = next((t.stable_deployment for t in targets if t.stable_deployment), None)
    unrestored = [t.service for t in targets if t.stable_revision is None]
    if restored is None:
        # A first release: its new revisions are at zero and nothing earlier serves. An operator decides.
        failure = f"nothing to restore for {', '.join(unrestored)}: {reason}" if unrestored else reason
        return (yield from _fail(flow, failure, incident=True))
    rolled_back = deployment_events.rolled_back(reason, restored, restored_health, unrestored)
    yield from flow.move(S.ROLLED_BACK, reason, closing=[rolled_back])
    return {"state": S.ROLLED_BACK.value, "reason": reason}


def _fail(flow: Flow, reason: str, incident: bool = False) -> Task:
    """Failed, RuntimeDeploymentFailed and, when an operator must look at compute, RuntimeIncidentRaised."""
    closing = [deployment_events.failed(reason)]
    if incident:
        closing.append(
            deployment_events.incident_raised(
                incident_id=f"incident-{flow.deployment_id}",
                reason=reason,
                environment=flow.release.spec.environment.name,
                services=[service.name for service in flow.release.spec.services],
                deployment_id=flow.deployment_id,
                traceid=flow.traceid,
                chain=None,
            )
        )
    yield from flow.move(S.FAILED, reason, closing=closing)
    return {"state": S.FAILED.value, "reason": reason}


def _step_request(flow: Flow, target: Target, step: Step) -> dict[str, Any]:
    return flow.stamped(StepRequest, target=target, step=step)


def _first_line(error: Exception) -> str:
    """The failure's first line: the SDK joins the extension's reason and details as "{reason} \n {details}"."""
    text = str(error).strip()
    return text.splitlines()[0].rstrip() if text else type(error).__name__
