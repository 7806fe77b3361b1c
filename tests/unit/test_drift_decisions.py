"""Operators' decisions on drift findings, against the in-memory store: what each status allows, and a retry."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from controlplane.adapters.storage.state_store import DocumentStateStore
from controlplane.domain.findings import Decision, FindingStatus
from controlplane.services.drift.decisions import Undecidable, decide
from controlplane.testing.memory_documents import MemoryDocumentTables
from tests.builders import T0, finding

F = FindingStatus
LATER = T0 + timedelta(minutes=5)


@pytest.fixture
def store() -> DocumentStateStore:
    store = DocumentStateStore(MemoryDocumentTables())
    store.create_tables()
    return store


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
    store: DocumentStateStore, decision: Decision, status: F, outcome: F
) -> None:
    store.create_finding(finding(status=status))
    decided = decide(store, "f-1", decision, LATER, "ticket CHG-1")
    assert (decided.status, decided.last_seen) == (outcome, LATER)
    assert decided.note == f"{decision}d by an operator: ticket CHG-1"
    assert store.get_finding("f-1").status is outcome


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
    store: DocumentStateStore, decision: Decision, status: F, needs: str
) -> None:
    store.create_finding(finding(status=status))
    with pytest.raises(Undecidable) as refused:
        decide(store, "f-1", decision, LATER)
    assert str(refused.value) == f"finding f-1 is {status.value}; {decision} needs {needs}"
    assert store.get_finding("f-1").status is status


def test_approving_a_failed_remedy_is_a_new_attempt_with_its_own_trace(store: DocumentStateStore) -> None:
    failed = replace(finding(status=F.REMEDIATION_FAILED), traceid="a" * 32, deployment_id="dep-1")
    store.create_finding(failed)
    retried = decide(store, "f-1", Decision.APPROVE, LATER)
    assert retried.status is F.APPROVED and retried.deployment_id is None
    assert retried.traceid not in ("", failed.traceid)


def test_infrastructure_drift_is_never_approved_only_dismissed(store: DocumentStateStore) -> None:
    store.create_finding(replace(finding(), kind="infrastructure"))
    with pytest.raises(Undecidable, match="pulumi up --refresh"):
        decide(store, "f-1", Decision.APPROVE, LATER)
    assert decide(store, "f-1", Decision.DISMISS, LATER).status is F.DISMISSED
