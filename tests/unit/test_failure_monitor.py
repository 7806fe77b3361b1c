"""The failure monitor: Healthy/Degraded/Rollback/Restoring/Incident per service, with real rollback deployments."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from controlplane.cli.timeline import describe
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.failure import ServiceCondition, Watch
from controlplane.domain.health import HealthReport, HealthStatus
from controlplane.services.monitor import HEARTBEAT, Monitor, Restore, tick_trace
from funchost.durable.history import RuntimeStatus
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from tests.workflow_world import FAST_GATE, World, release
from triggers.loops import monitor_over

T = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DEGRADED_FOR = timedelta(seconds=30)


def monitor(world: World, heartbeat: timedelta = HEARTBEAT) -> Monitor:
    return monitor_over(world.store, world.bus, world.health, "/tests/monitor", DEGRADED_FOR, heartbeat=heartbeat)


def complete(world: World, tag: str) -> str:
    """Seed what a Completed deployment of orders ``tag`` leaves; the serving revision."""
    world.seed_completed(release(tag))
    return world.store.catalog.get_catalog_entry("dev", "orders").revision


def watch(world: World) -> Watch:
    record = world.store.loop_states.get_loop_state("monitor", "dev/orders")
    assert record is not None
    return Watch.from_dict(record.body)


def ticks(world: World, seconds: list[int], heartbeat: timedelta = HEARTBEAT) -> list[Restore]:
    loop = monitor(world, heartbeat)
    restores: list[Restore] = []
    for second in seconds:
        restores += loop.tick(T + timedelta(seconds=second))
    return restores


def run(world: World, restore: Restore) -> DeploymentState:
    world.engine.start_new(DEPLOYMENT_ORCHESTRATOR, restore.deployment_id, json.dumps(restore.start.to_dict()))
    record = world.engine.wait(restore.deployment_id, timeout=30)
    assert record.status is RuntimeStatus.COMPLETED, record.output
    return world.store.deployments.get_deployment(restore.deployment_id).state


def conditions(world: World) -> list[tuple[str, str]]:
    return [(e.data["from"], e.data["to"]) for e in world.bus.published if e.type == "RuntimeServiceConditionChanged"]


def monitor_checks(world: World) -> list[datetime]:
    return [e.time for e in world.bus.published if e.type == "HealthCheckCompleted" and e.source == "/tests/monitor"]


def test_a_healthy_service_is_probed_every_tick_and_its_passing_checks_reported_as_a_heartbeat(world: World) -> None:
    complete(world, "1.0.0")
    probed = len(world.health.probes)
    seconds = list(range(0, 601, 10))
    assert ticks(world, seconds) == []
    assert watch(world).condition is ServiceCondition.HEALTHY
    assert len(world.health.probes) - probed == len(seconds) and conditions(world) == []
    # The first report falls somewhere in the first interval (where, the service's key decides), then one an interval.
    first, second = monitor_checks(world)
    assert first <= T + HEARTBEAT and second - first == HEARTBEAT


def test_with_no_heartbeat_every_check_is_reported(world: World) -> None:
    complete(world, "1.0.0")
    assert ticks(world, [0, 10], heartbeat=timedelta(0)) == []
    assert len(monitor_checks(world)) == 2 and conditions(world) == []


def test_a_heartbeat_reports_each_service_once_an_interval_at_its_own_point_in_it(world: World) -> None:
    names = [f"svc{n}" for n in range(12)]
    world.seed_completed(release("1.0.0", services=[service(name) for name in names]))
    ticks(world, list(range(0, 300, 10)))
    reported = [e.data["service"] for e in world.bus.published if e.type == "HealthCheckCompleted"]
    assert sorted(reported) == sorted(names)  # each once in the interval, not all at the first tick
    assert len({e.time for e in world.bus.published if e.type == "HealthCheckCompleted"}) > 1


def test_healthy_checks_of_one_tick_share_its_trace_and_a_failed_check_opens_an_episode_of_its_own(
    world: World,
) -> None:
    world.seed_completed(release("1.0.0", services=[service("orders"), service("billing"), service("search")]))
    failing = world.store.catalog.get_catalog_entry("dev", "search").revision
    world.health.statuses[failing] = HealthStatus.UNHEALTHY
    ticks(world, [0], heartbeat=timedelta(0))

    checks = {e.data["service"]: e for e in world.bus.published if e.type == "HealthCheckCompleted"}
    assert checks["orders"].traceid == checks["billing"].traceid == tick_trace("dev", T)
    assert len({e.id for e in checks.values()}) == 3  # one trace, an id per service
    episode = checks["search"].traceid
    assert episode != tick_trace("dev", T)
    [degraded] = [e for e in world.bus.published if e.type == "RuntimeServiceConditionChanged"]
    assert degraded.traceid == episode and degraded.data["service"] == "search"
    logged = world.store.event_log.events_for_trace(tick_trace("dev", T))
    assert sorted(e.data["service"] for e in logged) == ["billing", "orders"]


def service(name: str) -> dict[str, object]:
    return {"name": name, "image": f"example.azurecr.io/{name}:1.0.0", "replicas": 2}


def test_an_entry_promoted_before_entries_kept_the_loops_view_is_probed_as_its_release_says(world: World) -> None:
    world.seed_completed(release("1.0.0", healthGate={**FAST_GATE, "path": "/ready"}))
    entry = world.store.catalog.get_catalog_entry("dev", "orders")
    assert entry.loops is not None and entry.loops.health_path == "/ready"
    world.store.catalog.put_catalog_entry(replace(entry, loops=None))  # as stored before it was kept
    paths: list[str] = []

    class PathsProbe:
        def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
            paths.append(path)
            return world.health.probe(environment, service, revision, path)

    loop = monitor_over(world.store, world.bus, PathsProbe(), "/tests/monitor", DEGRADED_FOR, heartbeat=timedelta(0))
    loop.tick(T)
    assert paths == ["/ready"] and len(monitor_checks(world)) == 1


def test_a_brief_degradation_recovers_without_a_rollback(world: World) -> None:
    revision = complete(world, "1.0.0")
    world.health.statuses[revision] = HealthStatus.UNHEALTHY
    ticks(world, [0])
    world.health.statuses.clear()
    assert ticks(world, [10, 20]) == []
    assert conditions(world) == [("Healthy", "Degraded"), ("Degraded", "Healthy")]
    assert len(world.store.deployments.list_deployments()) == 1


def test_flapping_health_does_not_reset_the_degradation_clock(world: World) -> None:
    revision = complete(world, "1.0.0")
    complete(world, "2.0.0")
    revision = world.store.catalog.get_catalog_entry("dev", "orders").revision
    loop = monitor(world)
    for second, status in [(0, "bad"), (10, "ok"), (20, "bad"), (30, "ok"), (40, "bad")]:
        world.health.statuses = {revision: HealthStatus.UNHEALTHY} if status == "bad" else {}
        restores = loop.tick(T + timedelta(seconds=second))
    assert len(restores) == 1  # one pass is not a recovery: degraded since 0, still failing at 40


def test_sustained_degradation_rolls_back_to_the_last_completed_release(world: World) -> None:
    complete(world, "1.0.0")
    bad_revision = complete(world, "2.0.0")
    world.health.statuses[bad_revision] = HealthStatus.UNHEALTHY

    [restore] = ticks(world, [0, 10, 20, 30])

    assert watch(world).condition is ServiceCondition.RESTORING
    assert [q.image for q in world.store.quarantine.quarantined("dev")] == ["example.azurecr.io/orders:2.0.0"]
    assert run(world, restore) is DeploymentState.COMPLETED
    assert ticks(world, [40]) == []
    entry = world.store.catalog.get_catalog_entry("dev", "orders")
    assert entry.image == "example.azurecr.io/orders:1.0.0" and entry.deployment_id == restore.deployment_id
    assert (watch(world).deployment_id, watch(world).condition) == (restore.deployment_id, ServiceCondition.HEALTHY)
    assert conditions(world) == [
        ("Healthy", "Degraded"),
        ("Degraded", "Rollback"),
        ("Rollback", "Restoring"),
        ("Restoring", "Healthy"),
    ]
    episode = world.store.deployments.get_deployment(restore.deployment_id).traceid
    types = [e.type for e in world.store.event_log.events_for_trace(episode)]
    assert types[0] == "HealthCheckCompleted" and "RuntimeDeploymentCompleted" in types


def test_a_failed_restore_raises_an_incident_carrying_the_episode_chain(world: World) -> None:
    complete(world, "1.0.0")
    bad_revision = complete(world, "2.0.0")
    world.health.statuses = {bad_revision: HealthStatus.UNHEALTHY, "orders--": HealthStatus.UNHEALTHY}

    [restore] = ticks(world, [0, 30])
    assert run(world, restore) is DeploymentState.ROLLED_BACK  # the restored release fails its gate too
    ticks(world, [40])

    assert watch(world).condition is ServiceCondition.INCIDENT
    [incident] = [e for e in world.bus.published if e.type == "RuntimeIncidentRaised"]
    chain = incident.data["chain"]
    assert chain["traceId"] == incident.traceid == restore.start.trace_id
    assert chain["replay"] == f"python -m controlplane replay {incident.traceid}"
    chained = [event["type"] for event in chain["events"]]
    assert chained[0] == "HealthCheckCompleted" and "RuntimeDeploymentRolledBack" in chained
    timeline = [describe(e.to_dict()) for e in world.store.event_log.events_for_trace(incident.traceid)]
    assert any("Incident" in line for line in timeline)
    assert ticks(world, [50, 60]) == []  # an incident waits for an operator: no rollback loop


def test_with_nothing_to_restore_degradation_becomes_an_incident(world: World) -> None:
    revision = complete(world, "1.0.0")
    world.health.statuses[revision] = HealthStatus.UNHEALTHY
    assert ticks(world, [0, 30]) == []
    assert watch(world).condition is ServiceCondition.INCIDENT
    assert [e.type for e in world.bus.published].count("RuntimeIncidentRaised") == 1


def test_a_new_completed_deployment_starts_a_fresh_watch(world: World) -> None:
    revision = complete(world, "1.0.0")
    world.health.statuses[revision] = HealthStatus.UNHEALTHY
    ticks(world, [0, 30])
    assert watch(world).condition is ServiceCondition.INCIDENT
    world.health.statuses.clear()

    complete(world, "1.0.1")
    ticks(world, [100])

    assert watch(world).condition is ServiceCondition.HEALTHY
    assert watch(world).deployment_id == world.store.catalog.get_catalog_entry("dev", "orders").deployment_id


def test_overlapping_ticks_roll_back_once(world: World) -> None:
    complete(world, "1.0.0")
    bad_revision = complete(world, "2.0.0")
    world.health.statuses[bad_revision] = HealthStatus.UNHEALTHY
    ticks(world, [0])
    first, second = monitor(world), monitor(world)
    restores = first.tick(T + timedelta(seconds=30)) + second.tick(T + timedelta(seconds=30))
    assert len({r.deployment_id for r in restores}) == 1
    assert len(world.store.deployments.list_deployments()) == 3
