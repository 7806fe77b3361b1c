"""What the scaling loop stores per service between evaluations: its policy state, the change it is applying,
the last decision, the last change applied and the last ``HISTORY_LIMIT`` evaluations (what the Runtime Center
plots: replicas, metric values and the policy's bounds over time). Stored as ``to_dict()`` in a ``LoopRecord``
body; the JSON keys are the stored rows' keys, so rows written before this type existed read back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controlplane.domain.events import format_time, parse_time
from controlplane.domain.scaling import ScalingState

# Evaluations a record keeps: at the default 30-second scaling timer, about half an hour, in a few KiB of JSON.
HISTORY_LIMIT = 60


@dataclass(frozen=True)
class ScalingChange:
    """One decided change of a service's replicas, with the id of its ScalingPolicyApplied event and its trace.

    ``lease_until`` is how long the evaluation that decided it owns applying it (None: given back, or a row
    written before leases existed; either way the next evaluation may take it over).
    """

    revision: str
    from_replicas: int
    to_replicas: int
    rule: str | None
    reason: str
    metrics: Mapping[str, float | None]
    at: datetime
    event_id: str
    traceid: str
    causationid: str | None
    lease_until: datetime | None = None

    def to_dict(self, *, with_lease: bool = True) -> dict[str, Any]:
        """The stored shape; ``with_lease=False`` for the record of a change already applied."""
        data: dict[str, Any] = {
            "revision": self.revision,
            "from": self.from_replicas,
            "to": self.to_replicas,
            "rule": self.rule,
            "reason": self.reason,
            "metrics": dict(self.metrics),
            "at": format_time(self.at),
            "eventId": self.event_id,
        }
        if with_lease:
            data["leaseUntil"] = format_time(self.lease_until) if self.lease_until else None
        return {**data, "traceId": self.traceid, "causationId": self.causationid}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalingChange:
        lease = data.get("leaseUntil")
        return cls(
            revision=data["revision"],
            from_replicas=int(data["from"]),
            to_replicas=int(data["to"]),
            rule=data.get("rule"),
            reason=data["reason"],
            metrics=dict(data.get("metrics") or {}),
            at=parse_time(data["at"]),
            event_id=data["eventId"],
            traceid=data["traceId"],
            causationid=data.get("causationId"),
            lease_until=parse_time(lease) if lease else None,
        )

    def leased(self, now: datetime) -> bool:
        """True while the evaluation that holds the lease may still be applying the change."""
        return self.lease_until is not None and now < self.lease_until


@dataclass(frozen=True)
class LastDecision:
    """The outcome of the last evaluation: the replicas it settled on and why."""

    at: datetime
    replicas: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": format_time(self.at), "replicas": self.replicas, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LastDecision:
        return cls(parse_time(data["at"]), int(data["replicas"]), data["reason"])


@dataclass(frozen=True)
class Evaluation:
    """One evaluation as the loop saw and decided it: ``current`` replicas before, ``replicas`` decided (a change
    when they differ), the metric values read, and the policy's bounds then."""

    at: datetime
    current: int
    replicas: int
    min_replicas: int
    max_replicas: int
    metrics: Mapping[str, float | None]
    rule: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "current": self.current,
            "replicas": self.replicas,
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
            "metrics": dict(self.metrics),
            "rule": self.rule,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(
            at=parse_time(data["at"]),
            current=int(data["current"]),
            replicas=int(data["replicas"]),
            min_replicas=int(data["minReplicas"]),
            max_replicas=int(data["maxReplicas"]),
            metrics=dict(data.get("metrics") or {}),
            rule=data.get("rule"),
            reason=data.get("reason", ""),
        )


@dataclass(frozen=True)
class ScalingRecord:
    """The scaling loop's memory of one service; an empty body (never evaluated) reads as the default."""

    state: ScalingState = field(default_factory=ScalingState)
    pending: ScalingChange | None = None
    last: LastDecision | None = None
    desired: int | None = None
    last_applied: ScalingChange | None = None
    history: tuple[Evaluation, ...] = ()

    def with_evaluation(self, evaluation: Evaluation) -> tuple[Evaluation, ...]:
        """The history with ``evaluation`` added: the newest ``HISTORY_LIMIT``, oldest first."""
        return (*self.history, evaluation)[-HISTORY_LIMIT:]

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.to_dict(),
            "pending": self.pending.to_dict() if self.pending else None,
            "last": self.last.to_dict() if self.last else None,
            "desired": self.desired,
            "lastApplied": self.last_applied.to_dict(with_lease=False) if self.last_applied else None,
            "history": [evaluation.to_dict() for evaluation in self.history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalingRecord:
        pending, last, applied = data.get("pending"), data.get("last"), data.get("lastApplied")
        return cls(
            state=ScalingState.from_dict(data.get("state") or {}),
            pending=ScalingChange.from_dict(pending) if pending else None,
            last=LastDecision.from_dict(last) if last else None,
            desired=data.get("desired"),
            last_applied=ScalingChange.from_dict(applied) if applied else None,
            history=tuple(Evaluation.from_dict(item) for item in data.get("history") or ()),
        )

    @property
    def asleep(self) -> bool:
        """True when the last decision was zero replicas (scaled to zero by policy, not failing)."""
        return self.last is not None and self.last.replicas == 0
