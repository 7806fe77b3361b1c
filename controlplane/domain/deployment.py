"""The RuntimeDeployment record and its state machine.

    Requested -> Provisioning -> Configuring -> RollingOut -> HealthGating -> Promoting -> Completed
    Provisioning -> Failed          (provisioning error)
    RollingOut   -> RollingBack     (rollout error)
    HealthGating -> RollingBack     (gate failed)
    RollingBack  -> RolledBack      (the previous Completed deployment serves again)
    RollingBack  -> Failed          (there was none to restore: the first release of a service failed)
    Requested    -> Failed          (its orchestration never ran, or ended before provisioning)
    Configuring  -> Failed          (binding or planning failed: nothing was rolled out)
    Promoting    -> RollingBack     (promotion failed: traffic goes back to the stable revision)

No other transition exists. ``RollingBack -> Failed`` is not in the architecture's diagram; issue 4 asks
for it, and a first release with nothing to restore is not "rolled back". The last three come with issue 12
("no deployment can get stuck"): whatever ends a deployment's orchestration ends the deployment from the
state it is in, and a failure after rollout began rolls back. Every transition is kept in the record's
history with its time and reason.

Who: ``requestedBy`` is the signed-in caller who asked for the deployment (the rollback's caller for a
rollback's new deployment, which also names ``rollbackOf``); None when the control plane started it itself
(a drift remediation, the failure monitor's restore) or for a record older than identities. A transition an
operator caused (an approval, an abort) carries that operator as its ``actor``; the others have none.
``fourEyes``: approving it needs someone other than ``requestedBy`` (``domain.approvals``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from controlplane.domain.access import Actor
from controlplane.domain.events import format_time, parse_time
from controlplane.domain.manifest import Release, parse_release
from controlplane.domain.state_machine import StateMachine


class DeploymentState(StrEnum):
    REQUESTED = "Requested"
    PROVISIONING = "Provisioning"
    CONFIGURING = "Configuring"
    ROLLING_OUT = "RollingOut"
    HEALTH_GATING = "HealthGating"
    PROMOTING = "Promoting"
    COMPLETED = "Completed"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


# The states a release's services roll out in: their steps and gates run only then (a rollback stops them). A
# tuple, in this order: it goes on the wire (``TransitionRequest.only_from``), which a replay must repeat.
ROLLING_OUT_STATES = (DeploymentState.ROLLING_OUT, DeploymentState.HEALTH_GATING)

_S = DeploymentState
DEPLOYMENT_MACHINE: StateMachine[DeploymentState] = StateMachine(
    "RuntimeDeployment",
    _S.REQUESTED,
    {
        _S.REQUESTED: frozenset({_S.PROVISIONING, _S.FAILED}),
        _S.PROVISIONING: frozenset({_S.CONFIGURING, _S.FAILED}),
        _S.CONFIGURING: frozenset({_S.ROLLING_OUT, _S.FAILED}),
        _S.ROLLING_OUT: frozenset({_S.HEALTH_GATING, _S.ROLLING_BACK}),
        _S.HEALTH_GATING: frozenset({_S.PROMOTING, _S.ROLLING_BACK}),
        _S.PROMOTING: frozenset({_S.COMPLETED, _S.ROLLING_BACK}),
        _S.ROLLING_BACK: frozenset({_S.ROLLED_BACK, _S.FAILED}),
    },
)


@dataclass(frozen=True)
class Transition:
    """One step of the history; ``source`` is None for the initial ``Requested`` entry; ``actor``: the
    operator who caused it (the requester for ``Requested``), None for the control plane's own steps."""

    source: DeploymentState | None
    target: DeploymentState
    at: datetime
    reason: str = ""
    actor: Actor | None = None

    def to_dict(self) -> dict[str, Any]:
        step = {
            "from": self.source.value if self.source else None,
            "to": self.target.value,
            "at": format_time(self.at),
            "reason": self.reason,
        }
        return {**step, "actor": self.actor.to_dict()} if self.actor else step

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        return cls(
            source=DeploymentState(data["from"]) if data.get("from") else None,
            target=DeploymentState(data["to"]),
            at=parse_time(data["at"]),
            reason=data.get("reason", ""),
            actor=Actor.from_dict(data["actor"]) if data.get("actor") else None,
        )


class ServicePhase(StrEnum):
    PENDING = "Pending"
    ROLLING_OUT = "RollingOut"
    GATING = "Gating"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


# Traffic changes a service's progress keeps (a plan has a few; a cap keeps a malformed one bounded).
TRAFFIC_HISTORY_LIMIT = 50


@dataclass(frozen=True)
class TrafficPoint:
    """The new revision's share of the traffic from ``at`` on (what the Runtime Center plots over a rollout)."""

    at: datetime
    percent: int

    def to_dict(self) -> dict[str, Any]:
        return {"at": format_time(self.at), "percent": self.percent}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrafficPoint:
        return cls(parse_time(data["at"]), int(data["percent"]))


@dataclass(frozen=True)
class ServiceProgress:
    """Where one service of a deployment stands: its new revision, the traffic it takes, the last word;
    ``traffic_history`` is every change of that traffic, oldest first."""

    phase: ServicePhase = ServicePhase.PENDING
    revision: str | None = None
    traffic_percent: int = 0
    message: str = ""
    last_health: Mapping[str, Any] | None = None  # the latest gate probe: revision, status, summary, at
    traffic_history: tuple[TrafficPoint, ...] = ()

    def with_traffic(self, percent: int, at: datetime) -> ServiceProgress:
        """The new revision takes ``percent`` from ``at`` on; the same share again (a retried step) adds no point."""
        history = self.traffic_history
        if not history or history[-1].percent != percent:
            history = (*history, TrafficPoint(at, percent))[-TRAFFIC_HISTORY_LIMIT:]
        return replace(self, traffic_percent=percent, traffic_history=history)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "revision": self.revision,
            "trafficPercent": self.traffic_percent,
            "message": self.message,
            "lastHealth": dict(self.last_health) if self.last_health else None,
            "trafficHistory": [point.to_dict() for point in self.traffic_history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceProgress:
        return cls(
            phase=ServicePhase(data["phase"]),
            revision=data.get("revision"),
            traffic_percent=int(data.get("trafficPercent", 0)),
            message=data.get("message", ""),
            last_health=data.get("lastHealth"),
            traffic_history=tuple(TrafficPoint.from_dict(point) for point in data.get("trafficHistory") or ()),
        )


@dataclass(frozen=True)
class Origin:
    """Why a deployment exists: the ``actor`` who asked (None: the control plane itself), the first
    transition's ``reason``, the deployment it rolls back (``rollback_of``), and whether approving it needs
    four eyes (``domain.approvals.four_eyes_applies``)."""

    actor: Actor | None = None
    reason: str = "requested"
    rollback_of: str | None = None
    four_eyes: bool = False


@dataclass(frozen=True)
class Deployment:
    """One RuntimeDeployment: a release on its way through the state machine.

    ``etag`` is the storage concurrency token of the version this object was read as; it is not part
    of the deployment's identity or equality.
    """

    id: str
    release: Release
    traceid: str
    transitions: tuple[Transition, ...]
    services: Mapping[str, ServiceProgress]
    requested_by: Actor | None = None
    rollback_of: str | None = None
    four_eyes: bool = False
    etag: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", MappingProxyType(dict(self.services)))

    @classmethod
    def request(
        cls,
        deployment_id: str,
        release: Release,
        traceid: str,
        now: datetime,
        origin: Origin | None = None,
    ) -> Deployment:
        """A new deployment in ``Requested`` with one pending entry per service of the release; ``origin``:
        who asked and why (none: the control plane itself)."""
        origin = origin or Origin()
        first = Transition(None, DEPLOYMENT_MACHINE.initial, now, origin.reason, origin.actor)
        return cls(
            id=deployment_id,
            release=release,
            traceid=traceid,
            transitions=(first,),
            services={service.name: ServiceProgress() for service in release.spec.services},
            requested_by=origin.actor,
            rollback_of=origin.rollback_of,
            four_eyes=origin.four_eyes,
        )

    @property
    def state(self) -> DeploymentState:
        return self.transitions[-1].target

    @property
    def environment(self) -> str:
        return self.release.spec.environment.name

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(self.services)

    @property
    def created_at(self) -> datetime:
        return self.transitions[0].at

    @property
    def updated_at(self) -> datetime:
        return self.transitions[-1].at

    @property
    def is_terminal(self) -> bool:
        return DEPLOYMENT_MACHINE.is_terminal(self.state)

    def advance(
        self, target: DeploymentState, now: datetime, reason: str = "", actor: Actor | None = None
    ) -> Deployment:
        """The deployment moved to ``target`` (because ``actor`` said so, if anyone); IllegalTransition if the
        diagram has no such step."""
        DEPLOYMENT_MACHINE.check(self.state, target)
        step = Transition(self.state, target, now, reason, actor)
        return replace(self, transitions=(*self.transitions, step))

    def with_service(self, name: str, progress: ServiceProgress) -> Deployment:
        if name not in self.services:
            raise KeyError(f"deployment {self.id} has no service {name!r}")
        return replace(self, services={**self.services, name: progress})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state.value,
            "environment": self.environment,
            "traceId": self.traceid,
            "release": self.release.to_dict(),
            "transitions": [transition.to_dict() for transition in self.transitions],
            "services": {name: progress.to_dict() for name, progress in self.services.items()},
            "requestedBy": self.requested_by.to_dict() if self.requested_by else None,
            "rollbackOf": self.rollback_of,
            "fourEyes": self.four_eyes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], etag: str | None = None) -> Deployment:
        return cls(
            id=data["id"],
            release=parse_release(data["release"]),
            traceid=data["traceId"],
            transitions=tuple(Transition.from_dict(item) for item in data["transitions"]),
            services={name: ServiceProgress.from_dict(item) for name, item in data["services"].items()},
            requested_by=Actor.from_dict(data["requestedBy"]) if data.get("requestedBy") else None,
            rollback_of=data.get("rollbackOf"),
            four_eyes=bool(data.get("fourEyes", False)),
            etag=etag,
        )
