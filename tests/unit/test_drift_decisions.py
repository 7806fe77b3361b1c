"""Operators' decisions on drift findings, against the in-memory store: what each status allows, and a retry."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from controlplane.domain.findings import Decision, FindingStatus
from controlplane.ports import Findings
from controlplane.services.drift.decisions import Undecidable, decide
from controlplane.testing.memory_documents import memory_stores
from tests.builders import T0, finding

F = FindingStatus
LATER = T0 + timedelta(minutes=5)


@pytest.fixture
def findings() -> Findings:
    return memory_stores().findings


@pytest.mark.parametrize(
    ("decision", "status", "outcome"),
    [
        (Decision.APPROVE, F.OPEN, F.APPROVED),
        (Decision.APPROVE, F.REMEDIATION_FAILED, F.APPROVED),
        (Decision.DISMISS, F.OPEN, F.DISMISSED),
        (Decision.DISMISS, F.APPROVED, F.DISMISSED),
        (Decision.DISMISS, F.REMEDIATION_FAILED, F.DISMISSED),
    ],
)
def test_a_decision_moves_a_finding_it_is_allowed_from(
    findings: Findings, decision: Decision, status: F, outcome: F
) -> None:
    findings.create_finding(finding(status=status))
    decided = decide(findings, "f-1", decision, LATER, "ticket CHG-1")
    assert (decided.status, decided.last_seen) == (outcome, LATER)
    assert decided.note == f"{decision}d by an operator: ticket CHG-1"
    assert findings.get_finding("f-1").status is outcome


@pytest.mark.parametrize(
    ("decision", "status", "needs"),
    [
        (Decision.APPROVE, F.APPROVED, "Open or RemediationFailed"),
        (Decision.APPROVE, F.REMEDIATING, "Open or RemediationFailed"),
        (Decision.APPROVE, F.REMEDIATED, "Open or RemediationFailed"),
        (Decision.APPROVE, F.DISMISSED, "Open or RemediationFailed"),
        (Decision.APPROVE, F.RESOLVED, "Open or RemediationFailed"),
        (Decision.DISMISS, F.REMEDIATING, "Open or Approved or RemediationFailed"),
        (Decision.DISMISS, F.REMEDIATED, "Open or Approved or RemediationFailed"),
        (Decision.DISMISS, F.DISMISSED, "Open or Approved or RemediationFailed"),
        (Decision.DISMISS, F.RESOLVED, "Open or Approved or RemediationFailed"),
    ],
)
def test_a_decision_its_status_does_not_allow_is_refused_and_changes_nothing(
    findings: Findings, decision: Decision, status: F, needs: str
) -> None:
    findings.create_finding(finding(status=status))
    with pytest.raises(Undecidable) as refused:
        decide(findings, "f-1", decision, LATER)
    assert str(refused.value) == f"finding f-1 is {status.value}; {decision} needs {needs}"
    assert findings.get_finding("f-1").status is status


def test_approving_a_failed_remedy_is_a_new_attempt_with_its_own_trace(findings: Findings) -> None:
    failed = replace(finding(status=F.REMEDIATION_FAILED), traceid="a" * 32, deployment_id="dep-1")
    findings.create_finding(failed)
    retried = decide(findings, "f-1", Decision.APPROVE, LATER)
    assert retried.status is F.APPROVED and retried.deployment_id is None
    assert retried.traceid not in ("", failed.traceid)


def test_infrastructure_drift_is_never_approved_only_dismissed(findings: Findings) -> None:
    findings.create_finding(replace(finding(), kind="infrastructure"))
    with pytest.raises(Undecidable, match="pulumi up --refresh"):
        decide(findings, "f-1", Decision.APPROVE, LATER)
    assert decide(findings, "f-1", Decision.DISMISS, LATER).status is F.DISMISSED
