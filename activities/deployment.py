"""Activities of the deployment workflow: a typed request in (``from_dict`` on the first line), one handler
of controlplane.services, dict out.

Each is safe to run twice: the Durable runtime runs an activity again after a crash or a retry.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity, traced_async_activity
from controlplane.bootstrap import ports
from controlplane.domain import deployment_events
from controlplane.domain.workflow.deployment_requests import (
    DeploymentRequest,
    EmitRequest,
    GateRequest,
    ProbeRequest,
    PromotionRequest,
    RollBackRequest,
    StepRequest,
    StepsRequest,
    TransitionRequest,
)
from controlplane.errors import PermanentError, first_line
from controlplane.services import deployments, health_gate, rollout

bp = df.Blueprint()


def _source() -> str:
    return f"{ports().settings.event_source}/deployments"


@bp.activity_trigger(input_name="request")
@traced_activity
def record_transition(request: dict) -> dict[str, Any]:
    """Move the deployment to the request's state; emit RuntimeDeploymentStateChanged and the closing events."""
    transition = TransitionRequest.from_dict(request)
    wired = ports()
    return deployments.transition(
        wired.store.deployments,
        wired.store.claims,
        wired.store.event_log,
        wired.events,
        _source(),
        transition.deployment_id,
        transition.to,
        transition.reason,
        transition.at,
        transition.event_id,
        closing=transition.closing,
        actor=transition.actor,
        only_from=transition.only_from,
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def emit_event(request: dict) -> None:
    """Emit one catalog event in the deployment's trace."""
    emit = EmitRequest.from_dict(request)
    wired = ports()
    store = wired.store
    deployments.emit(
        store.deployments,
        store.event_log,
        wired.events,
        _source(),
        emit.deployment_id,
        emit.event,
        emit.at,
        emit.event_id,
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def ensure_environment(request: dict) -> dict[str, Any]:
    """Provision the release's environment; emit RuntimeEnvironmentProvisioned with the stack outputs."""
    stamp = DeploymentRequest.from_dict(request)
    wired = ports()
    store = wired.store
    deployment = store.deployments.get_deployment(stamp.deployment_id)
    provisioned = deployment_events.environment_provisioned(wired.provisioner.ensure_environment(deployment.release))
    deployments.emit(
        store.deployments,
        store.event_log,
        wired.events,
        _source(),
        deployment.id,
        provisioned,
        stamp.at,
        stamp.event_id,
    )
    return dict(provisioned.data)


@bp.activity_trigger(input_name="request")
@traced_activity
def bind_configuration(request: dict) -> dict[str, Any]:
    """Bind RuntimeConfiguration and SecretBinding references (never values) to the new revisions."""
    return rollout.bind_configuration(ports().store.deployments, DeploymentRequest.from_dict(request).deployment_id)


@bp.activity_trigger(input_name="request")
@traced_activity
def plan_targets(request: dict) -> list[dict[str, Any]]:
    """Per service: the new revision and the stable one (the last Completed deployment's) it replaces."""
    deployment_id = DeploymentRequest.from_dict(request).deployment_id
    store = ports().store
    return [target.to_dict() for target in rollout.targets(store.deployments, store.catalog, deployment_id)]


@bp.activity_trigger(input_name="request")
@traced_activity
def apply_step(request: dict) -> dict[str, str] | None:
    """One compute step. A permanent failure is returned (no retry can fix it); others raise and retry."""
    step = StepRequest.from_dict(request)
    wired = ports()
    try:
        rollout.apply_step(wired.store.deployments, wired.compute, step.deployment_id, step.target, step.step, step.at)
    except PermanentError as error:
        return {"error": first_line(error)}
    return None


@bp.activity_trigger(input_name="request")
@traced_activity
def apply_steps(request: dict) -> dict[str, Any]:
    """A batch of compute steps: ``{"applied": true}``; ``{"applied": false}`` when the deployment is no longer
    rolling out (nothing done); ``{"error"}`` for a permanent failure (no retry can fix it); others raise."""
    batch = StepsRequest.from_dict(request)
    wired = ports()
    try:
        applied = rollout.apply_steps(
            wired.store.deployments, wired.compute, batch.deployment_id, batch.target, batch.steps, batch.at
        )
    except PermanentError as error:
        return {"error": first_line(error)}
    return {"applied": applied}


@bp.activity_trigger(input_name="request")
@traced_async_activity
async def run_health_gate(request: dict) -> dict[str, Any]:
    """Probe the new revision until its health gate decides (controlplane.services.health_gate); emits each
    HealthCheckCompleted and the RuntimeHealthGateCompleted of the verdict."""
    gate = GateRequest.from_dict(request)
    wired = ports()
    store = wired.store
    stores = health_gate.GateStores(
        store.deployments, store.claims, store.event_log, wired.events, wired.health, _source()
    )
    return await health_gate.run_gate(stores, gate)


@bp.activity_trigger(input_name="request")
@traced_activity
def probe_revision(request: dict) -> dict[str, Any]:
    """One health probe of the new revision; emits HealthCheckCompleted."""
    probe = ProbeRequest.from_dict(request)
    wired = ports()
    return rollout.probe(
        wired.store.deployments,
        wired.store.event_log,
        wired.events,
        wired.health,
        _source(),
        probe.deployment_id,
        probe.target,
        probe.event_id,
        probe.at,
        stable=probe.stable,
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def promote(request: dict) -> dict[str, Any]:
    """Promote the release's services in order: each takes its steps after the last gate, then its new revision
    is recorded in the service catalog. ``{"promoted": [...]}``, with ``"error"`` when one failed (the services
    before it stay promoted; calling again is safe: every step and catalog write is idempotent)."""
    promotion = PromotionRequest.from_dict(request)
    wired = ports()
    store = wired.store
    return rollout.promote_all(
        store.deployments,
        store.catalog,
        store.quarantine,
        wired.compute,
        promotion.deployment_id,
        promotion.promotions,
        promotion.at,
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def roll_back(request: dict) -> None:
    """Restore the stable revision; quarantine the image that was rolled back."""
    rollback = RollBackRequest.from_dict(request)
    wired = ports()
    store = wired.store
    rollout.roll_back(
        store.deployments,
        store.catalog,
        store.quarantine,
        wired.compute,
        rollback.deployment_id,
        rollback.target,
        rollback.reason,
        rollback.at,
    )
