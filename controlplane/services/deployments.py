"""DeploymentService: accepting a release, walking its record through the state machine, and the events.

Handlers take their dependencies as parameters (the stored records they use, an EventBus, a clock) and plain
values, so the HTTP trigger, the activities and the tests call the same code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controlplane.domain import deployment_events
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.event_catalog import EventData
from controlplane.domain.manifest import Release
from controlplane.errors import NotFound, Refused
from controlplane.ports import Claims, Deployments, EventBus, EventLog, IdempotencyKeys
from controlplane.services import journal


@dataclass(frozen=True)
class Accepted:
    """The outcome of a deployment request: a new deployment, or the one an Idempotency-Key names."""

    deployment: Deployment
    created: bool


class ServiceBusy(Refused):
    """Another unfinished deployment holds one of the release's services."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"deployment {holder} is still running for this environment and service")
        self.holder = holder


def new_deployment_id() -> str:
    return f"dep-{uuid.uuid4().hex[:12]}"


def accept(
    deployments: Deployments,
    claims: Claims,
    idempotency_keys: IdempotencyKeys,
    release: Release,
    now: datetime,
    idempotency_key: str | None = None,
    traceid: str | None = None,
) -> Accepted:
    """Record a Requested deployment and claim its services; ServiceBusy (nothing kept) if one is running.

    With an Idempotency-Key, a repeated request returns the deployment the key first started. ``traceid``
    continues an existing trace (a drift finding's, a failure episode's); by default the deployment starts one.
    """
    deployment_id = new_deployment_id()
    if idempotency_key:
        bound = idempotency_keys.remember_request(idempotency_key, deployment_id)
        if bound != deployment_id:
            try:
                return Accepted(deployments.get_deployment(bound), created=False)
            except NotFound:
                pass  # the first request was refused: this one may try again under the same key
    requested = Deployment.request(deployment_id, release, traceid or uuid.uuid4().hex, now)
    deployment = deployments.create_deployment(requested)
    holder = claims.claim_services(deployment.environment, deployment.service_names, deployment_id)
    if holder is not None:
        deployments.delete_deployment(deployment_id)  # refused before it started: nothing is kept
        raise ServiceBusy(holder)
    return Accepted(deployment, created=True)


def services_in_flight(deployments: Deployments, environment: str, service: str | None = None) -> set[str]:
    """The services of ``environment`` (or just ``service``) that an unfinished deployment is rolling out."""
    running = [d for d in deployments.list_deployments(environment=environment, service=service) if not d.is_terminal]
    return {name for deployment in running for name in deployment.service_names}


class NotRollbackable(Refused):
    """Only a Completed deployment can be rolled back."""


def previous_completed(deployments: Deployments, deployment_id: str) -> Deployment:
    """The newest Completed deployment before ``deployment_id`` sharing one of its services: what a manual
    rollback of ``deployment_id`` deploys again. NotFound if there is none; NotRollbackable unless the
    deployment itself Completed."""
    current = deployments.get_deployment(deployment_id)
    if current.state is not DeploymentState.COMPLETED:
        raise NotRollbackable(f"deployment {deployment_id} is {current.state.value}; only a Completed one rolls back")
    for candidate in deployments.list_deployments(environment=current.environment):
        shares = set(candidate.service_names) & set(current.service_names)
        if candidate.state is DeploymentState.COMPLETED and candidate.created_at < current.created_at and shares:
            return candidate
    raise NotFound(f"no Completed deployment of {', '.join(current.service_names)} before {deployment_id}")


def transition(
    deployments: Deployments,
    claims: Claims,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    deployment_id: str,
    target: DeploymentState,
    reason: str,
    at: datetime,
    event_id: str,
) -> dict[str, Any]:
    """Move the deployment to ``target`` (a repeat of the same step is a no-op) and emit the change."""

    def change(current: Deployment) -> Deployment:
        if current.state is target:
            return current
        return current.advance(target, at, reason)

    deployment = deployments.update_deployment(deployment_id, change)
    step = next(t for t in reversed(deployment.transitions) if t.target is target)
    changed = deployment_events.state_changed(step)
    envelope = deployment_events.deployment_envelope(
        deployment.id, deployment.traceid, changed, event_id=event_id, source=source, time=step.at
    )
    journal.record(event_log, bus, [envelope])
    if deployment.is_terminal:
        claims.release_services(deployment.environment, deployment.service_names, deployment_id)
    return {"state": deployment.state.value}


def emit(
    deployments: Deployments,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    deployment_id: str,
    event: EventData,
    at: datetime,
    event_id: str,
) -> None:
    """Emit one catalog event in the deployment's trace (logged and published; a repeat is a duplicate)."""
    deployment = deployments.get_deployment(deployment_id)
    envelope = deployment_events.deployment_envelope(
        deployment_id, deployment.traceid, event, event_id=event_id, source=source, time=at.astimezone(UTC)
    )
    journal.record(event_log, bus, [envelope])
