"""What the control loops remember between runs: one versioned record per (loop, key), and quarantined images.

The scaling loop keeps a ``ScalingRecord`` per service, the failure monitor a ``Watch`` per service; both
travel as a ``LoopRecord`` whose etag makes two concurrent evaluations of one service conflict instead of
both acting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from controlplane.domain.events import format_time, parse_time


@dataclass(frozen=True)
class LoopRecord:
    """The JSON ``body`` a loop stored under ``key``; ``etag`` is None for a record not stored yet."""

    loop: str
    key: str
    body: Mapping[str, Any]
    etag: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", MappingProxyType(dict(self.body)))


@dataclass(frozen=True)
class QuarantinedImage:
    """An image rolled back in one service of one environment: drift never redeploys it by itself."""

    environment: str
    service: str
    image: str
    reason: str
    since: datetime
    deployment_id: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.environment, self.service, self.image)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "service": self.service,
            "image": self.image,
            "reason": self.reason,
            "since": format_time(self.since),
            "deploymentId": self.deployment_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuarantinedImage:
        return cls(
            data["environment"],
            data["service"],
            data["image"],
            data["reason"],
            parse_time(data["since"]),
            data["deploymentId"],
        )
