"""Drift findings: one divergence of live from desired state, tracked until it is resolved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from controlplane.domain.events import format_time, parse_time


class Remedy(StrEnum):
    AUTO = "auto-remediable"
    REVIEW = "review-required"


class FindingStatus(StrEnum):
    OPEN = "Open"
    APPROVED = "Approved"
    DISMISSED = "Dismissed"
    REMEDIATED = "Remediated"


@dataclass(frozen=True)
class DriftFinding:
    """A divergence found by the drift loop; ``diff`` maps a JSON pointer to ``{"desired", "actual"}``."""

    id: str
    environment: str
    service: str
    remedy: Remedy
    diff: Mapping[str, Any]
    status: FindingStatus
    first_seen: datetime
    last_seen: datetime
    etag: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "diff", MappingProxyType(dict(self.diff)))

    def with_status(self, status: FindingStatus, now: datetime) -> DriftFinding:
        return replace(self, status=status, last_seen=now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment": self.environment,
            "service": self.service,
            "remedy": self.remedy.value,
            "diff": dict(self.diff),
            "status": self.status.value,
            "firstSeen": format_time(self.first_seen),
            "lastSeen": format_time(self.last_seen),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], etag: str | None = None) -> DriftFinding:
        return cls(
            id=data["id"],
            environment=data["environment"],
            service=data["service"],
            remedy=Remedy(data["remedy"]),
            diff=data["diff"],
            status=FindingStatus(data["status"]),
            first_seen=parse_time(data["firstSeen"]),
            last_seen=parse_time(data["lastSeen"]),
            etag=etag,
        )
