"""What the scaling loop stores per service between evaluations: its policy state, the change it is applying,
the last decision and the last change applied. Stored as ``to_dict()`` in a ``LoopRecord`` body; the JSON keys
are the stored rows' keys, so rows written before this type existed read back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controlplane.domain.events import format_time, parse_time
from controlplane.domain.scaling import ScalingState


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
class ScalingRecord:
    """The scaling loop's memory of one service; an empty body (never evaluated) reads as the default."""

    state: ScalingState = field(default_factory=ScalingState)
    pending: ScalingChange | None = None
    last: LastDecision | None = None
    desired: int | None = None
    last_applied: ScalingChange | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.to_dict(),
            "pending": self.pending.to_dict() if self.pending else None,
            "last": self.last.to_dict() if self.last else None,
            "desired": self.desired,
            "lastApplied": self.last_applied.to_dict(with_lease=False) if self.last_applied else None,
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
        )

    @property
    def asleep(self) -> bool:
        """True when the last decision was zero replicas (scaled to zero by policy, not failing)."""
        return self.last is not None and self.last.replicas == 0
