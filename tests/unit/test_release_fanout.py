"""A release's services fanned out to sub-orchestrations, through the durable engine's real SDK replay: each
service's segments run as their own orchestration (in groups past ``SEGMENTS_PER_GROUP``), in parallel, and a
failure in any of them stops and rolls back every service, once."""

from __future__ import annotations

import copy

from controlplane.domain.deployment import DeploymentState
from controlplane.domain.events import Envelope
from controlplane.domain.health import HealthStatus
from controlplane.domain.manifest import Release, parse_release
from funchost.durable.history import RuntimeStatus
from orchestrators.service_group import SEGMENTS_PER_GROUP
from tests.builders import release_document
from tests.unit.test_deployment_workflow import states
from tests.workflow_world import FAST_GATE, World

SERVICES = tuple(f"svc-{n:02d}" for n in range(1, SEGMENTS_PER_GROUP + 3))  # two groups: 10 and 2


def fleet(tag: str) -> Release:
    document = copy.deepcopy(release_document(services=SERVICES, tag=tag))
    document["spec"]["healthGate"] = dict(FAST_GATE)
    return parse_release(document)


def events(world: World, deployment_id: str, kind: str | None = None) -> list[Envelope]:
    traceid = world.store.deployments.get_deployment(deployment_id).traceid
    return [e for e in world.store.event_log.events_for_trace(traceid) if kind is None or e.type == kind]


def test_a_release_past_a_group_rolls_out_every_service_in_groups_and_completes(world: World) -> None:
    deployment_id = world.deploy(fleet("1.0.0"))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    assert states(world, deployment_id)[-4:] == ["RollingOut", "HealthGating", "Promoting", "Completed"]
    for group in (1, 2):
        assert world.engine.get_record(f"{deployment_id}:group:{group}").status is RuntimeStatus.COMPLETED
    for service in SERVICES:  # each service's one segment ran as its own orchestration, under a group
        assert world.engine.get_record(f"{deployment_id}:{service}:1").status is RuntimeStatus.COMPLETED
        assert world.store.catalog.get_catalog_entry("dev", service).deployment_id == deployment_id
    assert len(events(world, deployment_id, "RuntimeDeploymentCompleted")) == 1
    gated = [e for e in events(world, deployment_id, "RuntimeDeploymentStateChanged") if e.data["to"] == "HealthGating"]
    assert len(gated) == 1, "the first last gate records HealthGating; the others find it done"


def test_one_failing_service_in_a_group_rolls_every_service_back_once(world: World) -> None:
    first = world.deploy(fleet("1.0.0"))
    assert world.finish(first) is DeploymentState.COMPLETED
    failing = SERVICES[-1]  # in the second group: the first group's services stop at their next activity
    world.health.statuses = {f"{failing}--": HealthStatus.UNHEALTHY, f"{failing}--{first[4:]}": HealthStatus.HEALTHY}
    world.health.statuses = dict(reversed(list(world.health.statuses.items())))  # the stable revision's first
    deployment_id = world.deploy(fleet("2.0.0"))

    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    rolling_back = [
        e for e in events(world, deployment_id, "RuntimeDeploymentStateChanged") if e.data["to"] == "RollingBack"
    ]
    assert len(rolling_back) == 1, "the group and the release orchestration record RollingBack once between them"
    [rolled_back] = events(world, deployment_id, "RuntimeDeploymentRolledBack")
    assert rolled_back.data["reason"].startswith(f"health gate failed for {failing}")
    for service in SERVICES:  # every service is back on the first release's revision, with all its traffic
        assert world.store.catalog.get_catalog_entry("dev", service).deployment_id == first
    live = {(w.service, w.revision): (w.replicas, w.traffic_percent) for w in world.compute.inventory("dev")}
    for service in SERVICES:
        assert live[(service, f"{service}--{first[4:]}")] == (2, 100)
        assert live[(service, f"{service}--{deployment_id[4:]}")] == (0, 0)
