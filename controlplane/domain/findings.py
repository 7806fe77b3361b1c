"""Drift findings: one divergence of live from desired state, tracked from detection until it is settled.

Lifecycle (``FindingStatus``; ``FINDING_MACHINE`` is this diagram, and no other status change exists)::

    Open --approve--> Approved --start remedy--> Remediating --deployment completed--> Remediated
      |                 |  |                          \\--deployment did not complete--> RemediationFailed
      |                 |  \\--unmanaged workload removed / not removed--> Remediated / RemediationFailed
      |                 \\--gone, or the service is no longer desired--> Resolved
      |--gone without our action--> Resolved
      \\--dismiss--> Dismissed                  (dismiss also from Approved and RemediationFailed)
    RemediationFailed --approve--> Approved    (an operator's retry)

An auto-remediable finding in a non-prod environment skips ``Open`` and starts as ``Approved``. Only an
operator moves a finding into ``Approved`` or ``Dismissed`` afterwards, so the statuses a decision is
allowed from are the sources of its target status in the table (``decidable_from``). The id is derived
from (environment, service, fingerprint of kind and diff), so an unchanged divergence found again is the
same finding: it is not re-created, re-emitted or re-remediated; a dismissed one stays dismissed. A
divergence that comes back after its finding was Remediated or Resolved is a new occurrence: a new
lifecycle (Open, or Approved by policy) under the same id, not a transition of the settled one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from controlplane.domain.access import Actor
from controlplane.domain.events import format_time, parse_time
from controlplane.domain.state_machine import StateMachine


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


_F = FindingStatus
FINDING_MACHINE: StateMachine[FindingStatus] = StateMachine(
    "DriftFinding",
    _F.OPEN,
    {
        _F.OPEN: frozenset({_F.APPROVED, _F.DISMISSED, _F.RESOLVED}),
        _F.APPROVED: frozenset({_F.REMEDIATING, _F.REMEDIATED, _F.REMEDIATION_FAILED, _F.DISMISSED, _F.RESOLVED}),
        _F.REMEDIATING: frozenset({_F.REMEDIATED, _F.REMEDIATION_FAILED}),
        _F.REMEDIATION_FAILED: frozenset({_F.APPROVED, _F.DISMISSED}),
    },
)

ACTIVE = frozenset({_F.OPEN, _F.APPROVED, _F.REMEDIATING})
"""Statuses of a finding still being handled; the others are settled."""

RECURRING = frozenset({_F.REMEDIATED, _F.RESOLVED})
"""Settled statuses after which the same divergence, seen again, is a new occurrence. Not Dismissed (an
operator accepted it) and not RemediationFailed (retrying automatically would loop; an operator approves)."""


class Decision(StrEnum):
    """An operator's decision on a finding, and the status it moves the finding to."""

    APPROVE = "approve"
    DISMISS = "dismiss"

    @property
    def target(self) -> FindingStatus:
        return _F.APPROVED if self is Decision.APPROVE else _F.DISMISSED


def decidable_from(decision: Decision) -> list[FindingStatus]:
    """The statuses ``decision`` is allowed from, in lifecycle order: the sources of its target in the table.

    approve -> [Open, RemediationFailed]; dismiss -> [Open, Approved, RemediationFailed].
    """
    sources = FINDING_MACHINE.sources(decision.target)
    return [status for status in FindingStatus if status in sources]


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
    ``decided_by`` and ``decision_reason``: the operator who last approved or dismissed it, and why.
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
    decided_by: Actor | None = None
    decision_reason: str = ""
    etag: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "diff", MappingProxyType(dict(self.diff)))

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def recurs(self) -> bool:
        """Whether this divergence, seen again, is a new occurrence (see ``RECURRING``)."""
        return self.status in RECURRING

    def with_status(self, status: FindingStatus, now: datetime, note: str = "") -> DriftFinding:
        """This finding moved to ``status`` at ``now``; IllegalTransition if the lifecycle has no such step."""
        FINDING_MACHINE.check(self.status, status)
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
            "decidedBy": self.decided_by.to_dict() if self.decided_by else None,
            "decisionReason": self.decision_reason,
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
            decided_by=Actor.from_dict(data["decidedBy"]) if data.get("decidedBy") else None,
            decision_reason=data.get("decisionReason", ""),
            etag=etag,
        )
