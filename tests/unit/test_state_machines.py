"""The RuntimeDeployment, Failure & Rollback and drift finding machines: every legal transition, and nothing else."""

from __future__ import annotations

from datetime import timedelta
from itertools import product

import pytest

from controlplane.domain.deployment import DEPLOYMENT_MACHINE, DeploymentState
from controlplane.domain.failure import FAILURE_MACHINE, ServiceCondition
from controlplane.domain.findings import FINDING_MACHINE, Decision, FindingStatus, decidable_from
from controlplane.errors import IllegalTransition
from tests.builders import T0, deployment, finding

S = DeploymentState
DEPLOYMENT_DIAGRAM = {
    (S.REQUESTED, S.PROVISIONING),
    (S.PROVISIONING, S.CONFIGURING),
    (S.CONFIGURING, S.ROLLING_OUT),
    (S.ROLLING_OUT, S.HEALTH_GATING),
    (S.HEALTH_GATING, S.PROMOTING),
    (S.PROMOTING, S.COMPLETED),
    (S.HEALTH_GATING, S.ROLLING_BACK),
    (S.ROLLING_OUT, S.ROLLING_BACK),
    (S.ROLLING_BACK, S.ROLLED_BACK),
    (S.PROVISIONING, S.FAILED),
    (S.ROLLING_BACK, S.FAILED),  # no previous Completed deployment to restore (issue 4)
    (S.REQUESTED, S.FAILED),  # the orchestration never ran or ended at once (issue 12)
    (S.CONFIGURING, S.FAILED),  # binding or planning failed, nothing rolled out (issue 12)
    (S.PROMOTING, S.ROLLING_BACK),  # promotion failed (issue 12)
}
C = ServiceCondition
FAILURE_DIAGRAM = {
    (C.HEALTHY, C.DEGRADED),
    (C.DEGRADED, C.HEALTHY),
    (C.DEGRADED, C.ROLLBACK),
    (C.ROLLBACK, C.RESTORING),
    (C.RESTORING, C.HEALTHY),
    (C.RESTORING, C.INCIDENT),
}
F = FindingStatus
FINDING_DIAGRAM = {
    (F.OPEN, F.APPROVED),  # an operator approves
    (F.OPEN, F.DISMISSED),  # an operator dismisses
    (F.OPEN, F.RESOLVED),  # gone without our action
    (F.APPROVED, F.REMEDIATING),  # a corrective deployment started
    (F.APPROVED, F.REMEDIATED),  # an approved unmanaged workload removed
    (F.APPROVED, F.REMEDIATION_FAILED),  # ... or not removed
    (F.APPROVED, F.DISMISSED),  # an operator dismisses before the remedy started
    (F.APPROVED, F.RESOLVED),  # gone, or the service is no longer desired
    (F.REMEDIATING, F.REMEDIATED),  # the corrective deployment completed
    (F.REMEDIATING, F.REMEDIATION_FAILED),  # ... or ended otherwise
    (F.REMEDIATION_FAILED, F.APPROVED),  # an operator approves a retry
    (F.REMEDIATION_FAILED, F.DISMISSED),  # an operator gives up on it
}


def test_the_deployment_machine_is_exactly_the_diagram() -> None:
    assert set(DEPLOYMENT_MACHINE.edges()) == DEPLOYMENT_DIAGRAM


def test_the_failure_machine_is_exactly_the_diagram() -> None:
    assert set(FAILURE_MACHINE.edges()) == FAILURE_DIAGRAM


@pytest.mark.parametrize(("source", "target"), sorted(DEPLOYMENT_DIAGRAM))
def test_every_legal_deployment_transition_is_accepted(source: S, target: S) -> None:
    assert DEPLOYMENT_MACHINE.check(source, target) is target


@pytest.mark.parametrize(("source", "target"), [pair for pair in product(S, S) if pair not in DEPLOYMENT_DIAGRAM])
def test_every_other_deployment_transition_is_illegal(source: S, target: S) -> None:
    with pytest.raises(IllegalTransition) as raised:
        DEPLOYMENT_MACHINE.check(source, target)
    assert f"{source.value} -> {target.value}" in str(raised.value)


@pytest.mark.parametrize(("source", "target"), sorted(FAILURE_DIAGRAM))
def test_every_legal_failure_transition_is_accepted(source: C, target: C) -> None:
    assert FAILURE_MACHINE.check(source, target) is target


@pytest.mark.parametrize(("source", "target"), [pair for pair in product(C, C) if pair not in FAILURE_DIAGRAM])
def test_every_other_failure_transition_is_illegal(source: C, target: C) -> None:
    with pytest.raises(IllegalTransition):
        FAILURE_MACHINE.check(source, target)


def test_the_finding_machine_is_exactly_the_diagram() -> None:
    assert set(FINDING_MACHINE.edges()) == FINDING_DIAGRAM
    assert FINDING_MACHINE.initial is F.OPEN


@pytest.mark.parametrize(("source", "target"), sorted(FINDING_DIAGRAM))
def test_every_legal_finding_transition_is_accepted(source: F, target: F) -> None:
    moved = finding(status=source).with_status(target, T0 + timedelta(minutes=1), "why")
    assert (moved.status, moved.last_seen, moved.note) == (target, T0 + timedelta(minutes=1), "why")


@pytest.mark.parametrize(("source", "target"), [pair for pair in product(F, F) if pair not in FINDING_DIAGRAM])
def test_every_other_finding_transition_is_illegal(source: F, target: F) -> None:
    found = finding(status=source)
    with pytest.raises(IllegalTransition) as raised:
        found.with_status(target, T0)
    assert str(raised.value) == f"DriftFinding: illegal transition {source.value} -> {target.value}"
    assert found.status is source


@pytest.mark.parametrize(
    ("decision", "allowed"),
    [
        (Decision.APPROVE, [F.OPEN, F.REMEDIATION_FAILED]),
        (Decision.DISMISS, [F.OPEN, F.APPROVED, F.REMEDIATION_FAILED]),
    ],
)
def test_an_operator_decision_is_allowed_from_the_sources_of_its_edges(decision: Decision, allowed: list[F]) -> None:
    assert decidable_from(decision) == allowed
    assert all((source, decision.target) in FINDING_DIAGRAM for source in allowed)


def test_only_a_remediated_or_resolved_finding_recurs_as_a_new_occurrence() -> None:
    # Dismissed stays dismissed; RemediationFailed waits for an operator (an automatic retry would loop).
    assert [status for status in F if finding(status=status).recurs] == [F.REMEDIATED, F.RESOLVED]


def test_a_finding_moved_without_a_note_keeps_its_last_one() -> None:
    approved = finding().with_status(F.APPROVED, T0, "approved by an operator")
    assert approved.with_status(F.REMEDIATING, T0).note == "approved by an operator"


def test_terminal_states_have_no_way_out() -> None:
    assert {state for state in S if DEPLOYMENT_MACHINE.is_terminal(state)} == {
        S.COMPLETED,
        S.ROLLED_BACK,
        S.FAILED,
    }
    assert {state for state in C if FAILURE_MACHINE.is_terminal(state)} == {C.INCIDENT}
    assert {state for state in F if FINDING_MACHINE.is_terminal(state)} == {F.REMEDIATED, F.DISMISSED, F.RESOLVED}


def test_a_deployment_records_each_step_with_time_and_reason() -> None:
    walked = deployment()
    for minute, state in enumerate([S.PROVISIONING, S.CONFIGURING, S.ROLLING_OUT, S.HEALTH_GATING], start=1):
        walked = walked.advance(state, T0 + timedelta(minutes=minute), f"step {minute}")
    walked = walked.advance(S.ROLLING_BACK, T0 + timedelta(minutes=5), "gate failed: /health Unhealthy")
    walked = walked.advance(S.ROLLED_BACK, T0 + timedelta(minutes=6))
    assert walked.state is S.ROLLED_BACK
    assert walked.is_terminal
    assert [t.target for t in walked.transitions] == [
        S.REQUESTED,
        S.PROVISIONING,
        S.CONFIGURING,
        S.ROLLING_OUT,
        S.HEALTH_GATING,
        S.ROLLING_BACK,
        S.ROLLED_BACK,
    ]
    assert walked.transitions[5].reason == "gate failed: /health Unhealthy"
    assert walked.updated_at == T0 + timedelta(minutes=6)


def test_an_illegal_step_leaves_the_deployment_unchanged() -> None:
    requested = deployment()
    with pytest.raises(IllegalTransition):
        requested.advance(S.COMPLETED, T0)
    assert requested.state is S.REQUESTED


def test_a_deployment_round_trips_through_its_dict_form() -> None:
    walked = deployment(services=("orders", "payments")).advance(S.PROVISIONING, T0, "go")
    assert type(walked).from_dict(walked.to_dict()) == walked
