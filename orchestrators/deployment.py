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
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from activities.deployment import (
    apply_step,
    bind_configuration,
    ensure_environment,
    plan_targets,
    probe_revision,
    promote,
    roll_back,
)
from controlplane.domain import deployment_events
from controlplane.domain.deployment import DEPLOYMENT_MACHINE, DeploymentState
from controlplane.domain.health import HealthReport, ProbeFailure, report_for_probe_error
from controlplane.domain.rollout import ScaleDownStableAfter, Step
from controlplane.domain.rollout.segments import LaneItem, Segment, lane_items
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.deployment_requests import (
    DeploymentRequest,
    ProbeRequest,
    Promotion,
    PromotionRequest,
    RollBackRequest,
    StepRequest,
)
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.errors import first_line
from orchestrators import analysis_gate, webhook_calls
from orchestrators.flow import Flow, Task, failure_of, settled
from orchestrators.lanes import Lane, Lanes
from orchestrators.waves import ServicePlan, roll_out_in_waves

bp = df.Blueprint()
log = logging.getLogger(__name__)
DEPLOYMENT_ORCHESTRATOR = "deployment"
S = DeploymentState
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=3)
PROMOTION_ATTEMPTS = 3
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
        return (yield from _fail(flow, f"provisioning failed: {first_line(error)}"))
    yield from flow.move(S.CONFIGURING)
    try:
        yield context.call_activity_with_retry(bind_configuration, RETRY, flow.stamped(DeploymentRequest))
        planned = yield context.call_activity(plan_targets, flow.stamped(DeploymentRequest))
        targets = [Target.from_dict(t) for t in planned]
    except Exception as error:  # nothing rolled out yet: end the deployment (and free its services) cleanly
        return (yield from _fail(flow, f"configuration failed: {first_line(error)}"))
    flow.targets = targets
    plans = {t.service: ServicePlan.of(release, t) for t in targets}
    progress_deadline = timedelta(seconds=release.spec.health_gate.progress_deadline_seconds)
    lanes = Lanes(flow, context.current_utc_datetime + progress_deadline)

    def roll_out_wave(wave: list[Target], last: bool) -> Task:
        return _roll_out_wave(flow, lanes, wave, plans, last)

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
    delayed = [
        (target, step)
        for target in targets
        for step in plans[target.service].after
        if isinstance(step, ScaleDownStableAfter)
    ]
    yield from _promote(flow, targets, plans)
    completed = deployment_events.completed(environment, {t.service: t.new_revision for t in targets})
    yield from flow.move(S.COMPLETED, closing=[completed])
    yield from webhook_calls.post_rollout(flow, S.COMPLETED)
    for target, step in delayed:  # blue-green keeps the old revision a while, so a rollback is instant
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=step.seconds))
        yield context.call_activity_with_retry(apply_step, RETRY, flow.stamped(StepRequest, target=target, step=step))
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
    reason = f"{state.value} failed: {first_line(error)}"
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
        return (yield from _fail(flow, f"rollback failed: {first_line(error)}", incident=True))
    return (yield from _fail(flow, reason))


def _roll_out_wave(flow: Flow, lanes: Lanes, wave: list[Target], plans: dict[str, ServicePlan], last: bool) -> Task:
    """Roll out one wave (orchestrators.waves): every service's steps up to and including its last gate, in
    parallel (its lane, orchestrators.lanes); the reason to roll back (RollingBack recorded), or None. In the
    last wave, the first last gate to run records HealthGating (the state of the release while its last gates
    decide); a last wave with no gate at all records it once its steps are done."""
    wave_lanes = []
    for target in wave:
        plan = plans[target.service]
        steps = [*plan.steps, plan.last_gate] if plan.last_gate is not None else plan.steps
        gating_gate = plan.last_gate_number if last and plan.last_gate is not None else 0
        wave_lanes.append(Lane(target, _lane_items(flow, target, steps), gating_gate))
    if failure := (yield from lanes.run([lane for lane in wave_lanes if lane.items])):
        return failure
    if last and any(lane.gating_gate for lane in wave_lanes):
        flow.entered(S.HEALTH_GATING)
    elif last:
        yield from flow.move(S.HEALTH_GATING)
    return None


def _lane_items(flow: Flow, target: Target, steps: list[Step]) -> list[LaneItem]:
    """The service's steps before its last gate as lane items; its pre-rollout webhooks run with its first segment,
    which an empty one stands for when the plan starts with a wait."""
    items = lane_items(steps)
    if items and not isinstance(items[0], Segment) and flow.release.webhooks_of(target.service, "pre-rollout"):
        items.insert(0, Segment((), 1))
    return items


def _promote(flow: Flow, targets: list[Target], plans: dict[str, ServicePlan]) -> Task:
    """Promote every service in one activity: each takes its steps after the last gate (but a delayed scale-down)
    and records its new revision in the catalog. A failure is tried again (every step and write is idempotent),
    then raised: the services promoted by then stay promoted (``Flow.promoted``), the others roll back."""
    promotions = tuple(
        Promotion(t, tuple(s for s in plans[t.service].after if not isinstance(s, ScaleDownStableAfter)))
        for t in targets
    )
    outcome: dict[str, Any] = {}
    for _ in range(PROMOTION_ATTEMPTS):
        request = flow.stamped(PromotionRequest, promotions=promotions)
        outcome = yield flow.context.call_activity_with_retry(promote, RETRY, request)
        if "error" not in outcome:
            break
    flow.promoted.extend(outcome["promoted"])
    if "error" in outcome:
        raise PromotionFailed(outcome["error"])


class PromotionFailed(Exception):
    """Promotion failed after its attempts (the message says at which service and why)."""


def _report(probe: TaskBase) -> HealthReport:
    """A settled probe's report; a probe activity that failed is an Unhealthy probe (a measurement error)."""
    if (error := failure_of(probe)) is not None:
        return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"probe failed: {first_line(error)}")
    return HealthReport.from_dict(probe.result)


def _roll_back(flow: Flow, targets: list[Target], reason: str) -> Task:
    """Put ``targets`` back on their stable revisions (a service of a wave that never started stays as it runs),
    probe those, end RolledBack (or Failed: nothing to restore, or the rollback failed), then call the
    post-rollout hooks."""
    ended = yield from _restore(flow, targets, reason)
    yield from webhook_calls.post_rollout(flow, flow.state)
    return ended


def _restore(flow: Flow, targets: list[Target], reason: str) -> Task:
    """Roll every service back at once, then probe the stable revisions at once (RollingBack is recorded first,
    unless the lanes recorded it already to stop the services)."""
    context = flow.context
    if flow.state is not S.ROLLING_BACK:
        yield from flow.move(S.ROLLING_BACK, reason)
    rollbacks = [
        context.call_activity_with_retry(roll_back, RETRY, flow.stamped(RollBackRequest, target=target, reason=reason))
        for target in targets
    ]
    yield from settled(context, rollbacks)
    for target, task in zip(targets, rollbacks, strict=True):
        if (error := failure_of(task)) is not None:
            failure = f"rollback of {target.service} failed: {first_line(error)}; it was rolling back because {reason}"
            return (yield from _fail(flow, failure, incident=True))
    restorable = [target for target in targets if target.stable_revision is not None]
    probes = [
        context.call_activity(probe_revision, flow.stamped(ProbeRequest, target=target, stable=True))
        for target in restorable
    ]
    yield from settled(context, probes)
    restored_health = {
        target.service: _report(task).status.value for target, task in zip(restorable, probes, strict=True)
    }
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
