"""The drift loop's own writes to a finding, which yield to an operator's concurrent change."""

from __future__ import annotations

from controlplane.domain.findings import DriftFinding
from controlplane.errors import ConcurrencyConflict
from controlplane.ports import Findings


def save_quietly(findings: Findings, finding: DriftFinding) -> DriftFinding:
    """Save a bookkeeping change; if an operator changed the finding meanwhile, theirs stands."""
    try:
        return findings.save_finding(finding)
    except ConcurrencyConflict:
        return findings.get_finding(finding.id)
