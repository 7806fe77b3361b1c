"""Operators' decisions on drift findings, against the in-memory store: what each status allows, and a retry."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from controlplane.domain.access import Actor
from controlplane.domain.findings import Decision, DriftFinding, FindingStatus
from controlplane.ports import Findings
from controlplane.services.drift.decisions import Undecidable, decide
from controlplane.testing.fakes import RecordingEventBus
from controlplane.testing.memory_documents import memory_stores
from tests.builders import T0, finding

F = FindingStatus
LATER = T0 + timedelta(minutes=5)


ANA = Actor("ana", "oid-ana", ("Operator",))


class Decider:
    """``decide`` over one in-memory store and a recording bus, as ``ana``."""

    def __init__(self) -> None:
        self.stores = memory_stores()
        self.bus = RecordingEventBus()

    def __call__(self, fid: str, decision: Decision, reason: str = "checked") -> DriftFinding:
        stores = self.stores
        return decide(stores.findings, stores.event_log, self.bus, "/test", fid, decision, LATER, ANA, reason)


@pytest.fixture
def decider() -> Decider:
    return Decider()


@pytest.fixture
def findings(decider: Decider) -> Findings:
    return decider.stores.findings


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
def test_a_decision_moves_a_finding_it_is_allowed_from_recording_who_and_why(
    decider: Decider, findings: Findings, decision: Decision, status: F, outcome: F
) -> None:
    findings.create_finding(replace(finding(status=status), traceid="b" * 32))
    decided = decider("f-1", decision, "ticket CHG-1")
    assert (decided.status, decided.last_seen) == (outcome, LATER)
    assert decided.note == f"{outcome.value.lower()} by ana: ticket CHG-1"  # "dismissed", not "dismissd"
    assert (decided.decided_by, decided.decision_reason) == (ANA, "ticket CHG-1")
    assert findings.get_finding("f-1") == decided
    [event] = decider.bus.published
    assert event.type == "RuntimeDriftFindingDecided" and event.traceid == decided.traceid
    assert {key: event.data[key] for key in ("findingId", "decision", "status", "actor", "reason")} == {
        "findingId": "f-1",
        "decision": decision.value,
        "status": outcome.value,
        "actor": ANA.to_dict(),
        "reason": "ticket CHG-1",
    }


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
    decider: Decider, findings: Findings, decision: Decision, status: F, needs: str
) -> None:
    findings.create_finding(finding(status=status))
    with pytest.raises(Undecidable) as refused:
        decider("f-1", decision)
    assert str(refused.value) == f"finding f-1 is {status.value}; {decision} needs {needs}"
    assert findings.get_finding("f-1").status is status and decider.bus.published == []


def test_approving_a_failed_remedy_is_a_new_attempt_with_its_own_trace(decider: Decider, findings: Findings) -> None:
    failed = replace(finding(status=F.REMEDIATION_FAILED), traceid="a" * 32, deployment_id="dep-1")
    findings.create_finding(failed)
    retried = decider("f-1", Decision.APPROVE)
    assert retried.status is F.APPROVED and retried.deployment_id is None
    assert retried.traceid not in ("", failed.traceid)
    assert [event.traceid for event in decider.bus.published] == [retried.traceid]  # the decision opens the attempt


def test_infrastructure_drift_is_never_approved_only_dismissed(decider: Decider, findings: Findings) -> None:
    findings.create_finding(replace(finding(), kind="infrastructure"))
    with pytest.raises(Undecidable, match="pulumi up --refresh"):
        decider("f-1", Decision.APPROVE)
    assert decider("f-1", Decision.DISMISS).status is F.DISMISSED
