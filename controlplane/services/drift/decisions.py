"""Operators' decisions on findings: approve (remediate, or retry a failed remedy) or dismiss (accept it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from controlplane.domain.events import format_time
from controlplane.domain.findings import Decision, DriftFinding, FindingStatus, decidable_from
from controlplane.errors import Refused
from controlplane.ports import Findings
from controlplane.services import journal

REPAIRED_BY_ITSELF = "the finding resolves by itself once the stack and the resources agree again"


class Undecidable(Refused):
    """The finding's status does not allow the operator's decision."""


def decide(findings: Findings, fid: str, decision: Decision, now: datetime, reason: str = "") -> DriftFinding:
    """An operator's ``approve`` or ``dismiss``; NotFound for an unknown id, Undecidable when the finding's
    status does not allow it (the lifecycle's edges into Approved or Dismissed; settled findings stay)."""
    finding = findings.get_finding(fid)
    allowed = decidable_from(decision)
    if finding.status not in allowed:
        raise Undecidable(f"finding {fid} is {finding.status.value}; {decision} needs {' or '.join(allowed)}")
    if finding.kind == "infrastructure" and decision is Decision.APPROVE:
        raise Undecidable(
            f"finding {fid} is infrastructure drift: repair it with pulumi up --refresh on the stack of "
            f"{finding.environment}; {REPAIRED_BY_ITSELF}"
        )
    note = f"{decision}d by an operator" + (f": {reason}" if reason else "")
    decided = finding.with_status(decision.target, now, note)
    if finding.status is FindingStatus.REMEDIATION_FAILED and decision is Decision.APPROVE:
        # A retry is a new attempt: its own trace, so its corrective deployment is a new one too.
        decided = replace(decided, traceid=journal.stable_trace(fid, "retry", format_time(now)), deployment_id=None)
    return findings.save_finding(decided)
