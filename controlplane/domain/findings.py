"""Drift findings: one divergence of live from desired state, tracked from detection until it is settled.

Lifecycle (``FindingStatus``)::

    Open --approve--> Approved --> Remediating --> Remediated
      |                               \\--> RemediationFailed
      |--dismiss--> Dismissed            (the corrective deployment did not complete)
      \\--(gone without our action)--> Resolved

An auto-remediable finding in a non-prod environment skips ``Open`` and starts as ``Approved``. The id is
derived from (environment, service, fingerprint of kind and diff), so an unchanged divergence found again
is the same finding: it is not re-created, re-emitted or re-remediated; a dismissed one stays dismissed.
"""

from __future__ import annotations

import hashlib
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
    REMEDIATING = "Remediating"
    REMEDIATED = "Remediated"
    REMEDIATION_FAILED = "RemediationFailed"
    DISMISSED = "Dismissed"
    RESOLVED = "Resolved"


ACTIVE = frozenset({FindingStatus.OPEN, FindingStatus.APPROVED, FindingStatus.REMEDIATING})
"""Statuses of a finding still being handled; the others are settled."""


def finding_id(environment: str, service: str, fingerprint: str) -> str:
    """The stable id of a finding: the same divergence of the same service always gets the same id."""
    digest = hashlib.sha256(f"{environment}\n{service}\n{fingerprint}".encode()).hexdigest()
    return f"drift-{digest[:16]}"


@dataclass(frozen=True)
class DriftFinding:
    """A divergence found by the drift loop; ``diff`` maps a JSON pointer to ``{"desired", "actual"}``.

    ``kind`` is the drift classification (mismatch, missing, unmanaged, quarantined); ``deployment_id`` is
    the corrective deployment once one started; ``note`` says why the status last changed; ``traceid`` is
    the trace of this occurrence: its detection, corrective deployment and remediation share it.
    """

    id: str
    environment: str
    service: str
    remedy: Remedy
    diff: Mapping[str, Any]
    status: FindingStatus
    first_seen: datetime
    last_seen: datetime
    kind: str = "mismatch"
    desired_revision: str = ""
    deployment_id: str | None = None
    note: str = ""
    traceid: str = ""
    etag: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "diff", MappingProxyType(dict(self.diff)))

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def with_status(self, status: FindingStatus, now: datetime, note: str = "") -> DriftFinding:
        return replace(self, status=status, last_seen=now, note=note or self.note)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment": self.environment,
            "service": self.service,
            "kind": self.kind,
            "remedy": self.remedy.value,
            "diff": dict(self.diff),
            "status": self.status.value,
            "firstSeen": format_time(self.first_seen),
            "lastSeen": format_time(self.last_seen),
            "desiredRevision": self.desired_revision,
            "deploymentId": self.deployment_id,
            "note": self.note,
            "traceId": self.traceid,
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
            kind=data.get("kind", "mismatch"),
            desired_revision=data.get("desiredRevision", ""),
            deployment_id=data.get("deploymentId"),
            note=data.get("note", ""),
            traceid=data.get("traceId", ""),
            etag=etag,
        )
