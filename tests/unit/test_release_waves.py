"""Release waves (``dependsOn``) through the durable engine's real SDK replay: services roll out wave by wave,
each wave gated whole before the next starts, and a failure anywhere rolls the whole release back."""

from __future__ import annotations

import copy
from typing import Any

from controlplane.domain.deployment import DeploymentState
from controlplane.domain.events import Envelope
from controlplane.domain.health import HealthStatus
from controlplane.domain.manifest import Release, parse_release
from tests.builders import release_document
from tests.unit.test_deployment_workflow import states
from tests.workflow_world import FAST_GATE, World

COMPLETED_PATH = ["Requested", "Provisioning", "Configuring", "RollingOut", "HealthGating", "Promoting", "Completed"]


def shop(tag: str, depends: bool = True, webhooks: list[dict[str, Any]] | None = None) -> Release:
    """api (dependsOn db) and db, in that manifest order: db's wave comes first."""
    document = copy.deepcopy(release_document(services=("api", "db"), tag=tag))
    document["spec"]["healthGate"] = dict(FAST_GATE)
    document["spec"]["webhooks"] = webhooks or []
    if depends:
        document["spec"]["services"][0]["dependsOn"] = ["db"]
    return parse_release(document)


def events(world: World, deployment_id: str) -> list[Envelope]:
    traceid = world.store.deployments.get_deployment(deployment_id).traceid
    return world.store.event_log.events_for_trace(traceid)


def waves_of(world: World, deployment_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.type, dict(e.data)) for e in events(world, deployment_id) if e.type.startswith("RuntimeReleaseWave")]


def service_of(call: tuple[Any, ...]) -> str:
    """The service a compute call of MemoryCompute's record is about (deploy_revision records the spec)."""
    return call[1].service if call[0] == "deploy_revision" else call[2]


def test_a_two_wave_release_rolls_out_db_whole_before_api_starts(world: World) -> None:
    api_only = {
        "name": "schema-check",
        "type": "pre-rollout",
        "url": "https://hooks.example.com/c",
        "services": ["api"],
    }
    deployment_id = world.deploy(shop("1.0.0", webhooks=[api_only]))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    assert states(world, deployment_id) == COMPLETED_PATH

    calls = world.compute.calls
    first_api = min(index for index, call in enumerate(calls) if service_of(call) == "api")
    db_rollout = [index for index, call in enumerate(calls) if service_of(call) == "db" and call[0] != "scale"]
    assert db_rollout and max(db_rollout) < first_api, "db's rollout steps all came before api's first step"

    logged = events(world, deployment_id)
    order = [(e.type, e.data.get("service") or e.data.get("wave") or e.data.get("to")) for e in logged]
    db_checks = [i for i, (kind, service) in enumerate(order) if kind == "HealthCheckCompleted" and service == "db"]
    api_checks = [i for i, (kind, service) in enumerate(order) if kind == "HealthCheckCompleted" and service == "api"]
    wave_two = order.index(("RuntimeReleaseWaveStarted", 2))
    assert max(db_checks) < order.index(("RuntimeReleaseWaveCompleted", 1)) < wave_two < min(api_checks)
    # api's pre-rollout hook ran once api's wave started, before its first step.
    assert [call.body["service"] for call in world.hooks.calls] == ["api"], "called for the service it names"
    assert wave_two < order.index(("RuntimeWebhookCalled", "api")) < min(api_checks)
    # Wave 1's gates ran in RollingOut; the last wave's last gate in HealthGating, as a release without waves.
    assert max(db_checks) < order.index(("RuntimeDeploymentStateChanged", "HealthGating")) < max(api_checks)

    wave_events = [
        (kind, {k: v for k, v in data.items() if k not in ("deploymentId", "environment")})
        for kind, data in waves_of(world, deployment_id)
    ]
    assert wave_events == [
        ("RuntimeReleaseWaveStarted", {"wave": 1, "waves": 2, "services": ["db"], "waitsFor": []}),
        ("RuntimeReleaseWaveCompleted", {"wave": 1, "waves": 2, "services": ["db"], "verdict": "passed"}),
        ("RuntimeReleaseWaveStarted", {"wave": 2, "waves": 2, "services": ["api"], "waitsFor": ["db"]}),
        ("RuntimeReleaseWaveCompleted", {"wave": 2, "waves": 2, "services": ["api"], "verdict": "passed"}),
    ]
    catalog = world.store.catalog
    assert {catalog.get_catalog_entry("dev", s).deployment_id for s in ("api", "db")} == {deployment_id}


def test_a_failure_in_the_second_wave_rolls_back_the_first_waves_service_too(world: World) -> None:
    first = world.deploy(shop("1.0.0"))
    world.finish(first)
    stable = {service: world.store.catalog.get_catalog_entry("dev", service).revision for service in ("api", "db")}
    world.health.statuses = {f"api--{first[4:]}": HealthStatus.HEALTHY, "api--": HealthStatus.UNHEALTHY}
    deployment_id = world.deploy(shop("2.0.0"))

    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert "health gate failed for api" in world.store.deployments.get_deployment(deployment_id).transitions[-1].reason
    live = {(w.service, w.revision): (w.replicas, w.traffic_percent) for w in world.compute.inventory("dev")}
    assert live[("db", stable["db"])] == (2, 100), "db, which passed its wave, is back on its stable revision"
    assert live[("db", f"db--{deployment_id[4:]}")] == (0, 0)
    assert live[("api", stable["api"])] == (2, 100)
    assert {world.store.catalog.get_catalog_entry("dev", s).revision for s in ("api", "db")} == set(stable.values())
    verdicts = [(data["wave"], data["verdict"]) for kind, data in waves_of(world, deployment_id) if "Completed" in kind]
    assert verdicts == [(1, "passed"), (2, "failed")]
    [rolled_back] = [e.data for e in events(world, deployment_id) if e.type == "RuntimeDeploymentRolledBack"]
    assert rolled_back["restoredHealth"] == {"api": "Healthy", "db": "Healthy"}


def test_a_failure_in_the_first_wave_leaves_the_later_waves_services_untouched(world: World) -> None:
    first = world.deploy(shop("1.0.0"))
    world.finish(first)
    world.health.statuses = {f"db--{first[4:]}": HealthStatus.HEALTHY, "db--": HealthStatus.UNHEALTHY}
    world.compute.calls.clear()
    deployment_id = world.deploy(shop("2.0.0"))

    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    api_calls = [call for call in world.compute.calls if service_of(call) == "api"]
    assert all(call[0] == "scale" and call[4] == 0 for call in api_calls), "api's stable revision was left as it ran"
    assert [kind for kind, _ in waves_of(world, deployment_id)] == [
        "RuntimeReleaseWaveStarted",
        "RuntimeReleaseWaveCompleted",
    ], "wave 2 never started"
    api = world.store.deployments.get_deployment(deployment_id).services["api"]
    assert api.phase.value == "RolledBack" and api.message.startswith("rolled back before it started, nothing to undo")
    assert api.traffic_history == ()
    db = world.store.deployments.get_deployment(deployment_id).services["db"]
    assert db.message.startswith("health gate failed for db") and db.traffic_history[-1].percent == 0


def test_a_release_without_depends_on_is_one_wave_and_announces_none(world: World) -> None:
    deployment_id = world.deploy(shop("1.0.0", depends=False))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    assert waves_of(world, deployment_id) == []
    # The services roll out in parallel; the first last gate to run records HealthGating, before any last gate
    # decides.
    order = [(e.type, e.data.get("service") or e.data.get("to")) for e in events(world, deployment_id)]
    gating = order.index(("RuntimeDeploymentStateChanged", "HealthGating"))
    for service in ("api", "db"):
        last_gate = max(index for index, seen in enumerate(order) if seen == ("RuntimeHealthGateCompleted", service))
        assert gating < last_gate
