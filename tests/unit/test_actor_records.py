"""Who is kept in the records: a deployment's requester, rollback origin and four-eyes flag, a transition's
actor and a finding's decider survive the stored form; records from before identities read as nobody's."""

from __future__ import annotations

from dataclasses import replace

from controlplane.domain.access import Actor
from controlplane.domain.deployment import Deployment, DeploymentState, Origin
from controlplane.domain.findings import DriftFinding
from controlplane.domain.workflow.deployment_start import DeploymentStart
from tests.builders import T0, finding, release

ANA = Actor("ana", "oid-ana", ("Deployer", "Operator"))
BEN = Actor("ben", "oid-ben", ("Approver",))
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_deployment_keeps_who_requested_it_and_who_moved_it() -> None:
    origin = Origin(ANA, "rollback of dep-0 by ana: leaks", rollback_of="dep-0", four_eyes=True)
    requested = Deployment.request("dep-1", release(), TRACE, T0, origin)
    moved = requested.advance(DeploymentState.PROVISIONING, T0).advance(DeploymentState.FAILED, T0, "aborted", BEN)
    stored = moved.to_dict()
    assert stored["requestedBy"] == ANA.to_dict() and stored["rollbackOf"] == "dep-0" and stored["fourEyes"] is True
    assert stored["transitions"][0]["actor"] == ANA.to_dict() and "actor" not in stored["transitions"][1]
    assert Deployment.from_dict(stored) == moved
    start = DeploymentStart.from_dict(DeploymentStart.of(moved).to_dict())
    assert (start.requested_by, start.four_eyes) == (ANA, True)


def test_records_from_before_identities_read_as_the_control_planes_own() -> None:
    stored = Deployment.request("dep-1", release(), TRACE, T0).to_dict()
    for key in ("requestedBy", "rollbackOf", "fourEyes"):
        del stored[key]
    old = Deployment.from_dict(stored)
    assert (old.requested_by, old.rollback_of, old.four_eyes, old.transitions[0].actor) == (None, None, False, None)


def test_a_finding_keeps_who_decided_it_and_why() -> None:
    decided = replace(finding(), decided_by=BEN, decision_reason="accepted hotfix")
    assert DriftFinding.from_dict(decided.to_dict()) == decided
    older = finding().to_dict()
    del older["decidedBy"], older["decisionReason"]
    assert DriftFinding.from_dict(older).decided_by is None
