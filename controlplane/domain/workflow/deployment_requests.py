"""The requests of the deployment workflow's activities (``activities/deployment.py``).

Every request is stamped by the orchestrator with the deployment, its trace, a deterministic time and event
id (``DeploymentRequest``); each activity that needs more has its own type. On the wire the stamp's keys
come first, in this order, then the activity's own: ``{"deploymentId", "traceId", "at", "eventId", ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from controlplane.domain.access import Actor
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.event_catalog import EventData, EventType
from controlplane.domain.rollout import Step, step_from_dict
from controlplane.domain.rollout.target import Target
from controlplane.domain.wire import WireFields


@dataclass(frozen=True)
class DeploymentRequest:
    """The stamp every deployment activity gets; on its own, the request of ensure_environment,
    bind_configuration and plan_targets."""

    deployment_id: str
    trace_id: str
    at: datetime
    event_id: str

    def to_dict(self) -> dict[str, Any]:
        stamp = {"deploymentId": self.deployment_id, "traceId": self.trace_id, "at": self.at.isoformat()}
        return {**stamp, "eventId": self.event_id, **self._own()}

    def _own(self) -> dict[str, Any]:
        """The activity's own keys, after the stamp's."""
        return {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The request ``to_dict`` wrote; InvalidInput naming each bad field."""
        fields = WireFields(data)
        stamp: dict[str, Any] = {
            "deployment_id": fields.text("deploymentId"),
            "trace_id": fields.text("traceId", ""),
            "at": fields.time("at"),
            "event_id": fields.text("eventId"),
        }
        own = cls._read_own(fields)
        fields.check()
        return cls(**stamp, **own)

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class TransitionRequest(DeploymentRequest):
    """record_transition: move the deployment to ``to``; ``closing``: the catalog events that end it (a
    terminal state's RuntimeDeploymentCompleted / RolledBack / Failed and an incident), emitted with the state
    change in one write, so a deployment is never terminal without its terminal event. ``actor``: the operator
    whose approval or abort caused the transition."""

    to: DeploymentState
    reason: str = ""
    closing: tuple[EventData, ...] = ()
    actor: Actor | None = None

    def _own(self) -> dict[str, Any]:
        own: dict[str, Any] = {"to": self.to.value, "reason": self.reason}
        if self.closing:
            own["closing"] = [_event_wire(event) for event in self.closing]
        if self.actor:
            own["actor"] = self.actor.to_dict()
        return own

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        closing = fields.parsed("closing", _read_events, "list of catalog events") if fields.has("closing") else ()
        return {
            "to": fields.parsed("to", DeploymentState, "deployment state"),
            "reason": fields.text("reason", ""),
            "closing": closing or (),
            "actor": fields.parsed("actor", Actor.from_dict, "actor") if fields.has("actor") else None,
        }


@dataclass(frozen=True)
class EmitRequest(DeploymentRequest):
    """emit_event: one catalog event in the deployment's trace, as its builder made it."""

    event: EventData

    def _own(self) -> dict[str, Any]:
        return _event_wire(self.event)

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {"event": _read_event(fields)}


def _event_wire(event: EventData) -> dict[str, Any]:
    return {"type": event.type.value, "data": dict(event.data)}


def _read_event(fields: WireFields) -> EventData:
    event_type = fields.parsed("type", EventType, "catalog event type")
    return EventData(event_type, fields.mapping("data"))  # type: ignore[arg-type]


def _read_events(wire: object) -> tuple[EventData, ...]:
    if not isinstance(wire, list):
        raise ValueError("a JSON array required")
    events = []
    for index, item in enumerate(wire):
        fields = WireFields(item, f"[{index}]")
        events.append(_read_event(fields))
        fields.check()
    return tuple(events)


@dataclass(frozen=True)
class TargetRequest(DeploymentRequest):
    """promote: one service's target."""

    target: Target

    def _own(self) -> dict[str, Any]:
        return {"target": self.target.to_dict()}

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {"target": Target.read(fields.nested("target"))}


@dataclass(frozen=True)
class StepRequest(TargetRequest):
    """apply_step: one compute step of a service's rollout plan."""

    step: Step

    def _own(self) -> dict[str, Any]:
        return {**super()._own(), "step": self.step.to_dict()}

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {**super()._read_own(fields), "step": fields.parsed("step", step_from_dict, "rollout step")}


@dataclass(frozen=True)
class ProbeRequest(TargetRequest):
    """probe_revision: one probe of the new revision, or of the stable one after a rollback."""

    stable: bool = False

    def _own(self) -> dict[str, Any]:
        return {**super()._own(), "stable": True} if self.stable else super()._own()

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {**super()._read_own(fields), "stable": fields.boolean("stable", False)}


@dataclass(frozen=True)
class RollBackRequest(TargetRequest):
    """roll_back: restore a service's stable revision, for ``reason``."""

    reason: str

    def _own(self) -> dict[str, Any]:
        return {**super()._own(), "reason": self.reason}

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {**super()._read_own(fields), "reason": fields.text("reason")}
