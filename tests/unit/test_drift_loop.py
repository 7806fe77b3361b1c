"""The drift loop: findings, policy, corrective deployments through the real orchestrations, quarantine."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from controlplane.domain.access import Actor
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.findings import Decision, FindingStatus
from controlplane.domain.health import HealthStatus
from controlplane.domain.manifest import Release, parse_release
from controlplane.domain.runtime import LiveWorkload
from controlplane.ports import Provisioner
from controlplane.services.drift.decisions import Undecidable, decide
from controlplane.services.drift.scan import scan as drift_scan
from controlplane.services.drift.views import plan as drift_plan
from controlplane.testing.fakes import RecordingProvisioner
from funchost.durable.history import RuntimeStatus
from orchestrators.drift import DRIFT_ORCHESTRATOR, INSTANCE_ID
from tests.workflow_world import FAST_GATE, World, release

SOURCE = "/tests/drift"
IMAGE_1 = "example.azurecr.io/orders:1.0.0"
ROGUE = "example.azurecr.io/orders:6.6.6"


def prod(tag: str) -> Release:
    document = copy.deepcopy(release(tag).to_dict())
    document["spec"]["environment"]["tier"] = "prod"
    return parse_release(document)


def decided(world: World, fid: str, decision: Decision, reason: str = "checked") -> None:
    """An operator's decision, as the API makes it."""
    operator = Actor("ana", "oid-ana", ("Operator",))
    store = world.store
    decide(store.findings, store.event_log, world.bus, "/test", fid, decision, datetime.now(UTC), operator, reason)


def deployed(world: World, desired: Release) -> str:
    """Seed what a Completed deployment of ``desired`` leaves and make it the desired state; the serving revision."""
    world.seed_completed(desired)
    world.desired.set_releases([desired])
    return world.store.catalog.get_catalog_entry("dev", "orders").revision


def scan(world: World, at: datetime | None = None, provisioner: Provisioner | None = None) -> list[str]:
    at = at or datetime.now(UTC)
    store = world.store
    return drift_scan(
        store.findings,
        store.catalog,
        store.deployments,
        store.quarantine,
        store.event_log,
        world.bus,
        SOURCE,
        world.desired,
        world.compute,
        at,
        provisioner,
    )


def run_drift(world: World) -> dict:
    world.engine.start_new(DRIFT_ORCHESTRATOR, INSTANCE_ID, None)
    record = world.engine.wait("drift", timeout=60)
    assert record.status is RuntimeStatus.COMPLETED, record.output
    return json.loads(record.output)


def detected(world: World) -> list[dict]:
    return [e.data for e in world.bus.published if e.type == "RuntimeDriftDetected"]


def test_an_image_changed_out_of_band_in_nonprod_is_repaired_by_a_corrective_deployment(world: World) -> None:
    serving = deployed(world, release("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)

    outcome = run_drift(world)

    [finding] = world.store.findings.list_findings()
    assert outcome["outcomes"] == {finding.id: "Remediated"}
    assert finding.status is FindingStatus.REMEDIATED and finding.kind == "mismatch"
    assert dict(finding.diff) == {"/image": {"desired": IMAGE_1, "actual": ROGUE}}
    corrective = world.store.deployments.get_deployment(finding.deployment_id)
    assert corrective.state is DeploymentState.COMPLETED
    assert corrective.release.spec.strategy.type == "RollingHealthGated"
    assert corrective.traceid == finding.traceid  # detection, deployment and remediation read as one trace
    types = [e.type for e in world.store.event_log.events_for_trace(finding.traceid)]
    assert types[0] == "RuntimeDriftDetected" and types[-1] == "RuntimeDriftRemediated"
    assert "RuntimeDeploymentCompleted" in types
    live = [w for w in world.compute.inventory("dev") if w.traffic_percent == 100]
    assert [w.image for w in live] == [IMAGE_1]
    assert scan(world) == [] and len(detected(world)) == 1  # repaired: nothing new to find


def test_an_unchanged_finding_is_not_re_emitted_and_a_vanished_one_resolves(world: World) -> None:
    serving = deployed(world, prod("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)

    assert scan(world) == []  # prod: nothing is approved by policy
    assert scan(world) == []
    [finding] = world.store.findings.list_findings(FindingStatus.OPEN)
    assert len(detected(world)) == 1
    assert detected(world)[0]["classification"] == "auto-remediable"

    world.compute.set_image("dev", "orders", serving, IMAGE_1)  # someone put it back by hand
    scan(world)
    assert world.store.findings.get_finding(finding.id).status is FindingStatus.RESOLVED


def test_prod_drift_waits_for_approval_and_then_remediates_without_a_second_approval(world: World) -> None:
    serving = deployed(world, prod("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)
    assert run_drift(world)["approved"] == []
    [finding] = world.store.findings.list_findings()

    decided(world, finding.id, Decision.APPROVE, "ticket CHG-1")
    outcome = run_drift(world)

    assert outcome["outcomes"] == {finding.id: "Remediated"}  # the prod promotion did not wait again
    corrective = world.store.deployments.get_deployment(world.store.findings.get_finding(finding.id).deployment_id)
    assert corrective.release.metadata.labels["controlplane.azure/drift-finding"] == finding.id
    with pytest.raises(Undecidable):
        decided(world, finding.id, Decision.DISMISS)


def test_a_dismissed_finding_stays_dismissed(world: World) -> None:
    serving = deployed(world, prod("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)
    scan(world)
    [finding] = world.store.findings.list_findings()
    decided(world, finding.id, Decision.DISMISS, "accepted hotfix")

    assert scan(world) == []
    assert world.store.findings.get_finding(finding.id).status is FindingStatus.DISMISSED
    assert len(detected(world)) == 1


def test_replicas_inside_the_scaling_range_and_ignored_pointers_are_not_drift(world: World) -> None:
    document = release("1.0.0").to_dict()
    scaling = {"minReplicas": 1, "maxReplicas": 5, "rules": [{"metric": "cpu", "target": 70}]}
    document["spec"]["services"][0]["scaling"] = scaling
    document["spec"]["services"][0]["ignoreDifferences"] = ["/configHash"]
    serving = deployed(world, parse_release(document))
    world.compute.scale("dev", "orders", serving, 4)
    assert scan(world) == [] and world.store.findings.list_findings() == []

    world.compute.scale("dev", "orders", serving, 9)
    scan(world)
    [finding] = world.store.findings.list_findings()
    assert dict(finding.diff) == {"/replicas": {"desired": 2, "actual": 9}}


def test_an_unmanaged_workload_needs_review_and_an_approval_removes_it(world: World) -> None:
    deployed(world, release("1.0.0"))
    stray = LiveWorkload("dev", "orders", "orders-debug", "example.azurecr.io/debug:1", 1, "h", 0)
    world.compute.add_unmanaged(stray)

    assert scan(world) == []  # review-required even outside prod
    [finding] = world.store.findings.list_findings(FindingStatus.OPEN)
    assert finding.kind == "unmanaged" and list(finding.diff) == ["/revisions/orders-debug"]

    decided(world, finding.id, Decision.APPROVE)
    run_drift(world)

    assert world.store.findings.get_finding(finding.id).status is FindingStatus.REMEDIATED
    assert all(w.managed for w in world.compute.inventory("dev"))


def test_a_rolled_back_image_is_quarantined_and_never_redeployed_by_drift(world: World) -> None:
    deployed(world, release("1.0.0"))
    bad = release("3.0.0")
    deployment_id = world.deploy(bad)
    new_revision = f"orders--{deployment_id.removeprefix('dep-')}"
    world.health.statuses[new_revision] = HealthStatus.UNHEALTHY
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    [quarantined] = world.store.quarantine.quarantined("dev")
    assert quarantined.image == "example.azurecr.io/orders:3.0.0"

    world.desired.set_releases([bad])  # Git says 3.0.0: the Argo CD auto-sync-after-rollback trap
    outcome = run_drift(world)

    assert outcome["approved"] == []
    [finding] = world.store.findings.list_findings()
    assert finding.kind == "quarantined" and finding.status is FindingStatus.OPEN
    assert len(world.store.deployments.list_deployments()) == 2  # nothing was redeployed


def test_a_failed_corrective_deployment_is_not_retried_automatically(world: World) -> None:
    serving = deployed(world, release("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)
    world.health.statuses = {serving: HealthStatus.HEALTHY, "orders--": HealthStatus.UNHEALTHY}  # new ones fail

    outcome = run_drift(world)
    [finding] = [f for f in world.store.findings.list_findings() if f.kind == "mismatch"]
    assert outcome["outcomes"] == {finding.id: "RemediationFailed"}

    again = run_drift(world)
    assert again["approved"] == []  # no retry storm; the image it tried is quarantined now
    assert len(world.store.deployments.list_deployments()) == 2


def test_the_plan_shows_what_would_happen_and_changes_nothing(world: World) -> None:
    serving = deployed(world, release("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)
    published = len(world.bus.published)

    store = world.store
    plan = drift_plan(store.findings, store.catalog, store.deployments, store.quarantine, world.desired, world.compute)

    [entry] = plan["findings"]
    assert entry["action"] == "start a corrective deployment" and entry["new"] is True
    assert entry["diff"] == {"/image": {"desired": IMAGE_1, "actual": ROGUE}}
    assert world.store.findings.list_findings() == [] and len(world.bus.published) == published


def test_a_service_being_deployed_is_not_compared(world: World) -> None:
    serving = deployed(world, release("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)
    slow = release("2.0.0", strategy={"type": "Canary", "steps": [{"weight": 50, "pause": {"untilApproved": True}}]})
    world.seed_in_flight(slow, new_percent=50)  # paused at 50% until approved

    assert scan(world) == [] and world.store.findings.list_findings() == []


def test_a_restart_mid_remediation_finishes_the_same_corrective_deployment(world: World) -> None:
    serving = deployed(world, release("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)
    world.desired.set_releases([release("1.0.0", healthGate={**FAST_GATE, "intervalSeconds": 2})])  # a slower gate
    world.engine.start_new(DRIFT_ORCHESTRATOR, INSTANCE_ID, None)
    world.wait_for_custom_status("drift", "remediating")
    world.engine.stop()  # the host dies while the corrective deployment runs

    world.engine = world.start_engine()
    record = world.engine.wait("drift", timeout=60)

    assert record.status is RuntimeStatus.COMPLETED, record.output
    [finding] = world.store.findings.list_findings()
    assert finding.status is FindingStatus.REMEDIATED
    corrective = [d for d in world.store.deployments.list_deployments() if d.traceid == finding.traceid]
    assert len(corrective) == 1 and corrective[0].state is DeploymentState.COMPLETED


def test_a_recurring_divergence_is_a_new_occurrence_with_its_own_trace(world: World) -> None:
    serving = deployed(world, prod("1.0.0"))
    world.compute.set_image("dev", "orders", serving, ROGUE)
    now = datetime.now(UTC)
    scan(world, now)
    [first] = world.store.findings.list_findings()
    world.compute.set_image("dev", "orders", serving, IMAGE_1)
    scan(world, now + timedelta(seconds=1))
    world.compute.set_image("dev", "orders", serving, ROGUE)
    scan(world, now + timedelta(seconds=2))

    [again] = world.store.findings.list_findings()
    assert again.id == first.id and again.status is FindingStatus.OPEN
    assert again.traceid != first.traceid and len(detected(world)) == 2


def test_infrastructure_changed_outside_its_stack_is_a_review_finding_that_resolves_when_repaired(
    world: World,
) -> None:
    provisioner = RecordingProvisioner()
    deployed(world, release("1.0.0"))
    provisioner.ensure_environment(release("1.0.0"))  # dev was provisioned by its deployment
    vault = "urn:pulumi:dev::runtime-environment::azure-native:keyvault:Vault::kv"
    provisioner.drifted["dev"] = [vault]

    now = datetime.now(UTC)
    assert scan(world, now, provisioner) == []
    [finding] = world.store.findings.list_findings()
    assert (finding.kind, finding.service) == ("infrastructure", "~infrastructure")
    assert finding.remedy.value == "review-required" and list(finding.diff) == [f"/infrastructure/{vault}"]
    with pytest.raises(Undecidable, match="pulumi up --refresh"):
        decided(world, finding.id, Decision.APPROVE)

    provisioner.drifted["dev"] = []  # someone ran pulumi up --refresh
    scan(world, datetime.now(UTC), provisioner)
    assert world.store.findings.get_finding(finding.id).status is FindingStatus.RESOLVED


def test_traffic_moved_off_the_promoted_revision_is_repaired(world: World) -> None:
    first = deployed(world, release("1.0.0"))
    second = deployed(world, release("1.0.0"))  # a second revision of the same release
    world.compute.scale("dev", "orders", first, 2)
    world.compute.set_traffic("dev", "orders", {first: 50, second: 50})  # someone split traffic by hand

    outcome = run_drift(world)

    [finding] = world.store.findings.list_findings()
    assert dict(finding.diff)["/traffic"]["actual"] == {first: 50, second: 50}
    assert outcome["outcomes"] == {finding.id: "Remediated"}
    promoted = world.store.catalog.get_catalog_entry("dev", "orders").revision
    live = {w.revision: w.traffic_percent for w in world.compute.inventory("dev") if w.traffic_percent}
    assert live == {promoted: 100}
