"""Activities of the deployment workflow: a typed request in (``from_dict`` on the first line), one handler
of controlplane.services, dict out.

Each is safe to run twice: the Durable runtime runs an activity again after a crash or a retry.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity
from controlplane.bootstrap import ports
from controlplane.domain import deployment_events
from controlplane.domain.workflow.deployment_requests import (
    DeploymentRequest,
    EmitRequest,
    ProbeRequest,
    RollBackRequest,
    StepRequest,
    TargetRequest,
    TransitionRequest,
)
from controlplane.errors import PermanentError
from controlplane.services import deployments, rollout

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
        rollout.apply_step(
            wired.store.deployments, wired.compute, step.deployment_id, step.target, step.step, step.at
        )
    except PermanentError as error:
        return {"error": str(error).strip().splitlines()[0]}
    return None


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
def promote(request: dict) -> None:
    """Record the new revision in the service catalog."""
    promotion = TargetRequest.from_dict(request)
    store = ports().store
    rollout.record_promotion(
        store.deployments, store.catalog, store.quarantine, promotion.deployment_id, promotion.target, promotion.at
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
