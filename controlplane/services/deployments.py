"""DeploymentService: accepting a release, walking its record through the state machine, and the events.

Handlers take their dependencies as parameters (the stored records they use, an EventBus, a clock) and plain
values, so the HTTP trigger, the activities and the tests call the same code.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.domain import deployment_events
from controlplane.domain.access import Actor
from controlplane.domain.catalog import CatalogEntry, LoopView
from controlplane.domain.deployment import Deployment, DeploymentState, Origin
from controlplane.domain.event_catalog import EventData
from controlplane.domain.idempotency import keyed_deployment_id
from controlplane.domain.manifest import Release
from controlplane.errors import AlreadyExists, ControlPlaneError, NotFound, PermanentError, Refused
from controlplane.ports import Claims, Deployments, EventBus, EventLog
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


class KeyReused(PermanentError):
    """An Idempotency-Key already started a deployment of another release (HTTP 422, as Stripe and the
    IETF idempotency-key draft answer a key reused with a different payload)."""

    def __init__(self, deployment_id: str) -> None:
        super().__init__(
            f"Idempotency-Key reused with a different manifest: it started deployment {deployment_id}; "
            "send a new key for a new release"
        )
        self.deployment_id = deployment_id


def new_deployment_id() -> str:
    return f"dep-{uuid.uuid4().hex[:12]}"


def accept(
    deployments: Deployments,
    claims: Claims,
    release: Release,
    now: datetime,
    idempotency_key: str | None = None,
    traceid: str | None = None,
    origin: Origin | None = None,
) -> Accepted:
    """Claim the release's services and record a Requested deployment; ServiceBusy (nothing kept) if one runs.

    With an Idempotency-Key the deployment id is derived from the key (``domain.idempotency``), so the stored
    deployment is the key's record: a repeated request finds it (``created=False``), or KeyReused if it holds
    another release. Concurrent requests with one key share the id, so the claims they take are the same
    claims and exactly one insert wins; the others read the winner. The services are claimed before the
    deployment is stored, so no request can see a deployment that a refused claim would take back; the
    claims adapter holds a claim of a not-yet-stored deployment for a grace period. ``traceid`` continues
    an existing trace (a drift finding's, a failure episode's); by default the deployment starts one.
    ``origin``: who asked and why (the record's ``requestedBy``), none when the control plane asks itself.
    """
    if idempotency_key is None:
        deployment_id = new_deployment_id()
    else:
        deployment_id = keyed_deployment_id(idempotency_key, release.spec.environment.name, _service_names(release))
        existing = _stored(deployments, deployment_id)
        if existing is not None:
            return _repeated(existing, release)
    requested = Deployment.request(deployment_id, release, traceid or uuid.uuid4().hex, now, origin)
    holder = claims.claim_services(requested.environment, requested.service_names, deployment_id, now)
    if holder is not None:
        raise ServiceBusy(holder)
    try:
        return Accepted(deployments.create_deployment(requested), created=True)
    except AlreadyExists:
        if idempotency_key is None:
            raise  # a random id met a stored one: never answer with another request's deployment
        winner = deployments.get_deployment(deployment_id)  # a concurrent request with the same key won
        if winner.is_terminal:  # it ran and released its claims before ours was taken: give ours back
            claims.release_services(winner.environment, winner.service_names, deployment_id)
        return _repeated(winner, release)
    except Exception:
        _release_unless_stored(deployments, claims, requested)
        raise


def _service_names(release: Release) -> list[str]:
    return [service.name for service in release.spec.services]


def _stored(deployments: Deployments, deployment_id: str) -> Deployment | None:
    try:
        return deployments.get_deployment(deployment_id)
    except NotFound:
        return None


def _release_unless_stored(deployments: Deployments, claims: Claims, requested: Deployment) -> None:
    """After a failed insert: give the claims back unless a concurrent request with the same key stored the
    deployment (they are its claims then). If the store cannot even say, the claims lapse by themselves."""
    try:
        if _stored(deployments, requested.id) is None:
            claims.release_services(requested.environment, requested.service_names, requested.id)
    except ControlPlaneError:
        pass  # a claim of a deployment never stored is taken over once its grace period is over


def _repeated(existing: Deployment, release: Release) -> Accepted:
    if existing.release != release:
        raise KeyReused(existing.id)
    return Accepted(existing, created=False)


def services_in_flight(deployments: Deployments, environment: str, service: str | None = None) -> set[str]:
    """The services of ``environment`` (or just ``service``) that an unfinished deployment is rolling out."""
    running = [d for d in deployments.list_deployments(environment=environment, service=service) if not d.is_terminal]
    return {name for deployment in running for name in deployment.service_names}


class NotRollbackable(Refused):
    """Only a Completed deployment can be rolled back."""


def loop_view(deployments: Deployments, entry: CatalogEntry) -> LoopView:
    """What the loops need of the service's release: kept with its catalog entry, else read from the release (an
    entry stored before entries kept it)."""
    return entry.loops or LoopView.of(deployments.get_release(entry.deployment_id), entry.service)


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
    closing: Sequence[EventData] = (),
    actor: Actor | None = None,
    only_from: Collection[DeploymentState] = (),
) -> dict[str, Any]:
    """Move the deployment to ``target`` (because ``actor`` said so, if an operator did; a repeat of the same
    step is a no-op; with ``only_from``, only from one of those states, else nothing happens, and only this
    call's move is emitted, not another writer's) and emit the change, then the ``closing`` events (a terminal
    state's own) in the same journal write; their ids derive from ``event_id``, so a repeat emits the same ones."""

    def change(current: Deployment) -> Deployment:
        if current.state is target or (only_from and current.state not in only_from):
            return current
        return current.advance(target, at, reason, actor)

    deployment = deployments.update_deployment(deployment_id, change)
    step = next((t for t in reversed(deployment.transitions) if t.target is target), None)
    if step is None or (only_from and step.at != at):
        # ``only_from`` did not hold, or another writer made this move (its own event says so): nothing to emit.
        # A repeat of this call finds its own step (same time) and emits the same event again, a duplicate.
        return {"state": deployment.state.value}
    changed = deployment_events.state_changed(step)
    # The log orders a trace's events by time, then id: each closing event is a microsecond after the one before.
    events = [changed, *closing]
    ids = [event_id, *(journal.stable_id(event_id, "closing", str(index)) for index in range(len(closing)))]
    envelopes = [
        deployment_events.deployment_envelope(
            deployment,
            event,
            event_id=identity,
            source=source,
            time=step.at + timedelta(microseconds=offset),
        )
        for offset, (event, identity) in enumerate(zip(events, ids, strict=True))
    ]
    journal.record(event_log, bus, envelopes)
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
        deployment, event, event_id=event_id, source=source, time=at.astimezone(UTC)
    )
    journal.record(event_log, bus, [envelope])
