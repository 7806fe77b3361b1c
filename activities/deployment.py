"""Activities of the deployment workflow: dict in, one handler of controlplane.services, dict out.

Each is safe to run twice: the Durable runtime runs an activity again after a crash or a retry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity
from controlplane.bootstrap.root import services
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.event_catalog import EventType
from controlplane.domain.rollout import step_from_dict
from controlplane.errors import PermanentError
from controlplane.services import deployments, rollout
from controlplane.services.rollout import Target

bp = df.Blueprint()


def _source() -> str:
    return f"{services().settings.event_source}/deployments"


@bp.activity_trigger(input_name="request")
@traced_activity
def record_transition(request: dict) -> dict[str, Any]:
    """Move the deployment to request["to"] and emit RuntimeDeploymentStateChanged."""
    wired = services()
    return deployments.transition(
        wired.store.deployments,
        wired.store.claims,
        wired.store.event_log,
        wired.events,
        _source(),
        request["deploymentId"],
        DeploymentState(request["to"]),
        request.get("reason", ""),
        datetime.fromisoformat(request["at"]),
        request["eventId"],
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def emit_event(request: dict) -> None:
    """Emit one catalog event in the deployment's trace."""
    wired = services()
    deployments.emit(
        wired.store.deployments,
        wired.store.event_log,
        wired.events,
        _source(),
        request["deploymentId"],
        EventType(request["type"]),
        request["data"],
        request["at"],
        request["eventId"],
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def ensure_environment(request: dict) -> dict[str, Any]:
    """Provision the release's environment; emit RuntimeEnvironmentProvisioned with the stack outputs."""
    wired = services()
    deployment = wired.store.deployments.get_deployment(request["deploymentId"])
    outputs = wired.provisioner.ensure_environment(deployment.release)
    data = {"environment": outputs.environment, "outputs": dict(outputs.outputs), "changed": outputs.changed}
    deployments.emit(
        wired.store.deployments,
        wired.store.event_log,
        wired.events,
        _source(),
        deployment.id,
        EventType.RUNTIME_ENVIRONMENT_PROVISIONED,
        data,
        request["at"],
        request["eventId"],
    )
    return data


@bp.activity_trigger(input_name="request")
@traced_activity
def bind_configuration(request: dict) -> dict[str, Any]:
    """Bind RuntimeConfiguration and SecretBinding references (never values) to the new revisions."""
    return rollout.bind_configuration(services().store.deployments, request["deploymentId"])


@bp.activity_trigger(input_name="request")
@traced_activity
def plan_targets(request: dict) -> list[dict[str, Any]]:
    """Per service: the new revision and the stable one (the last Completed deployment's) it replaces."""
    store = services().store
    return [target.to_dict() for target in rollout.targets(store.deployments, store.catalog, request["deploymentId"])]


@bp.activity_trigger(input_name="request")
@traced_activity
def apply_step(request: dict) -> dict[str, str] | None:
    """One compute step. A permanent failure is returned (no retry can fix it); others raise and retry."""
    wired = services()
    target = Target.from_dict(request["target"])
    try:
        step = step_from_dict(request["step"])
        rollout.apply_step(wired.store.deployments, wired.compute, request["deploymentId"], target, step)
    except PermanentError as error:
        return {"error": str(error).strip().splitlines()[0]}
    return None


@bp.activity_trigger(input_name="request")
@traced_activity
def probe_revision(request: dict) -> dict[str, Any]:
    """One health probe of the new revision; emits HealthCheckCompleted."""
    wired = services()
    return rollout.probe(
        wired.store.deployments,
        wired.store.event_log,
        wired.events,
        wired.health,
        _source(),
        request["deploymentId"],
        Target.from_dict(request["target"]),
        request["eventId"],
        request["at"],
        stable=request.get("stable", False),
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def promote(request: dict) -> None:
    """Record the new revision in the service catalog."""
    store = services().store
    rollout.record_promotion(
        store.deployments,
        store.catalog,
        store.quarantine,
        request["deploymentId"],
        Target.from_dict(request["target"]),
        datetime.fromisoformat(request["at"]),
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def roll_back(request: dict) -> None:
    wired = services()
    """Restore the stable revision; quarantine the image that was rolled back."""
    target = Target.from_dict(request["target"])
    at = datetime.fromisoformat(request["at"])
    store = wired.store
    rollout.roll_back(
        store.deployments,
        store.catalog,
        store.quarantine,
        wired.compute,
        request["deploymentId"],
        target,
        request["reason"],
        at,
    )
