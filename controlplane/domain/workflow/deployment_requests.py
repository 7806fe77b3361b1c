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
    whose approval or abort caused the transition. ``only_from``: record it only from one of these states (a
    release's services stopping it: the first to stop records RollingBack, the others find it done)."""

    to: DeploymentState
    reason: str = ""
    closing: tuple[EventData, ...] = ()
    actor: Actor | None = None
    only_from: tuple[DeploymentState, ...] = ()

    def _own(self) -> dict[str, Any]:
        own: dict[str, Any] = {"to": self.to.value, "reason": self.reason}
        if self.closing:
            own["closing"] = [_event_wire(event) for event in self.closing]
        if self.actor:
            own["actor"] = self.actor.to_dict()
        if self.only_from:
            own["onlyFrom"] = [state.value for state in self.only_from]
        return own

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        closing = fields.parsed("closing", _read_events, "list of catalog events") if fields.has("closing") else ()
        return {
            "to": fields.parsed("to", DeploymentState, "deployment state"),
            "reason": fields.text("reason", ""),
            "closing": closing or (),
            "actor": fields.parsed("actor", Actor.from_dict, "actor") if fields.has("actor") else None,
            "only_from": fields.parsed("onlyFrom", _read_states, "list of deployment states") or ()
            if fields.has("onlyFrom")
            else (),
        }


def _read_states(raw: object) -> tuple[DeploymentState, ...]:
    if not isinstance(raw, list):
        raise ValueError("a JSON array required")
    return tuple(DeploymentState(state) for state in raw)


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


def read_steps(raw: object) -> tuple[Step, ...]:
    """Rollout steps from their wire form (a list of ``Step.to_dict``)."""
    if not isinstance(raw, list):
        raise ValueError("a list of rollout steps")
    return tuple(step_from_dict(step) for step in raw)


@dataclass(frozen=True)
class StepsRequest(TargetRequest):
    """apply_steps: a batch of a service's compute steps, in order."""

    steps: tuple[Step, ...]

    def _own(self) -> dict[str, Any]:
        return {**super()._own(), "steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {**super()._read_own(fields), "steps": fields.parsed("steps", read_steps, "list of rollout steps") or ()}


@dataclass(frozen=True)
class Gating:
    """The HealthGating transition a last gate of a release's last wave records before it probes (if the release
    is still RollingOut: the first of those gates records it), with the approvals given since the last transition
    (``reason``) and the operator who gave the last (``actor``)."""

    reason: str = ""
    actor: Actor | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, **({"actor": self.actor.to_dict()} if self.actor else {})}

    @classmethod
    def read(cls, fields: WireFields) -> Gating:
        actor = fields.parsed("actor", Actor.from_dict, "actor") if fields.has("actor") else None
        return cls(fields.text("reason", ""), actor)


@dataclass(frozen=True)
class GateRequest(TargetRequest):
    """run_health_gate: probe the new revision at gate ``where`` (``gate_events.gate_of``) until the health gate
    decides, the ``deadline`` passes or the activity's time is up; ``successes``/``failures``/``probes``: the tally
    and the probes of the activity's earlier calls at this gate (a gate that outlasts one call goes on);
    ``gating``: the HealthGating transition to record first, for a last gate of the release's last wave."""

    where: dict[str, Any]
    deadline: datetime
    successes: int = 0
    failures: int = 0
    probes: int = 0
    gating: Gating | None = None

    def _own(self) -> dict[str, Any]:
        tally = {"successes": self.successes, "failures": self.failures, "probes": self.probes}
        gating = {"gating": self.gating.to_dict()} if self.gating else {}
        return {**super()._own(), "where": self.where, "deadline": self.deadline.isoformat(), **tally, **gating}

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {
            **super()._read_own(fields),
            "where": fields.mapping("where"),
            "deadline": fields.time("deadline"),
            "successes": fields.integer("successes"),
            "failures": fields.integer("failures"),
            "probes": fields.integer("probes"),
            "gating": Gating.read(fields.nested("gating")) if fields.has("gating") else None,
        }


@dataclass(frozen=True)
class Promotion:
    """A service to promote, with the steps its plan takes after its last gate (retiring the stable revision)."""

    target: Target
    steps: tuple[Step, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target.to_dict(), "steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Promotion:
        fields = WireFields(data)
        promotion = cls(
            Target.read(fields.nested("target")), fields.parsed("steps", read_steps, "list of rollout steps") or ()
        )
        fields.check()
        return promotion


def _promotions(raw: object) -> tuple[Promotion, ...]:
    if not isinstance(raw, list):
        raise ValueError("a list of promotions")
    return tuple(Promotion.from_dict(item) for item in raw)


@dataclass(frozen=True)
class PromotionRequest(DeploymentRequest):
    """promote: every service of the release, in order, each with its steps after the last gate."""

    promotions: tuple[Promotion, ...]

    def _own(self) -> dict[str, Any]:
        return {"promotions": [promotion.to_dict() for promotion in self.promotions]}

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {"promotions": fields.parsed("promotions", _promotions, "list of promotions") or ()}
