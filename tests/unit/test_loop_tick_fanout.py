"""A loop tick fanned out by shard: the plan, and the orchestration through the engine's real replay (one
activity per shard), covering every service once, cut at the tick's one deadline, handing back the restores."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import azure.durable_functions as df
import pytest

from controlplane.bootstrap import ports, use_ports
from controlplane.domain.health import HealthStatus
from controlplane.domain.manifest import parse_release
from controlplane.domain.shards import Shard, plan
from controlplane.domain.workflow.loop_tick_requests import LoopTickPlan, ShardRequest
from controlplane.errors import InvalidInput
from controlplane.services.monitor import Restore
from funchost.durable.history import RuntimeStatus
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from orchestrators.loop_ticks import LOOP_TICK_ORCHESTRATOR, instance_id
from tests import product_app
from tests.builders import release_document
from tests.workflow_world import FAST_GATE, World
from triggers import loops

SERVICES = ("alpha", "bravo", "charlie", "delta", "echo")
T = datetime.now(UTC).replace(microsecond=0)


def seed(world: World, tag: str) -> None:
    document = release_document(services=SERVICES, tag=tag)
    document["spec"]["healthGate"] = dict(FAST_GATE)
    for service in document["spec"]["services"]:
        service["scaling"] = {"minReplicas": 1, "maxReplicas": 6, "rules": [{"metric": "cpu", "target": 50}]}
    world.seed_completed(parse_release(document))


def shard_size(size: int) -> None:
    wired = ports()
    use_ports(replace(wired, settings=replace(wired.settings, loop_shard_size=size)))


def run(world: World, loop: str, at: datetime, deadline: timedelta = timedelta(seconds=8)) -> dict:
    keys = [(entry.environment, entry.service) for entry in world.store.catalog.list_catalog()]
    tick = LoopTickPlan(loop, at, datetime.now(UTC) + deadline, tuple(plan(keys, 2)))
    world.engine.start_new(LOOP_TICK_ORCHESTRATOR, instance_id(loop), json.dumps(tick.to_dict()))
    record = world.engine.wait(instance_id(loop), timeout=60)
    assert record.status is RuntimeStatus.COMPLETED, record.output
    return json.loads(record.output)


def checks(world: World) -> list[str]:
    """The services probed since the last call (a healthy one's passing check is reported only as a heartbeat)."""
    probed = sorted(revision.split("--")[0] for revision in world.health.probes)
    world.health.probes.clear()
    return probed


def test_a_plan_cuts_each_environment_into_runs_of_the_shard_size() -> None:
    keys = [("dev", name) for name in "edcba"] + [("prod", "a"), ("dev", "a")]
    assert plan(keys, 2) == [Shard("dev", "a", "c"), Shard("dev", "c", "e"), Shard("dev", "e"), Shard("prod", "a")]
    assert plan(keys, 5) == [Shard("dev", "a"), Shard("prod", "a")]
    assert plan([], 5) == []
    with pytest.raises(ValueError):
        plan(keys, 0)


def test_a_shard_request_names_each_bad_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        ShardRequest.from_dict({"loop": "drift", "at": "yesterday", "deadline": T.isoformat(), "shard": {"first": 1}})
    assert sorted(error.path for error in refused.value.errors) == ["at", "loop", "shard.environment", "shard.first"]


def test_the_timer_ticks_in_process_until_the_catalog_outgrows_one_shard(world: World) -> None:
    seed(world, "1.0.0")
    assert loops.tick_plan("monitor", T) is None  # five services, shards of 500
    shard_size(2)
    fanned = loops.tick_plan("monitor", T)
    assert fanned is not None
    assert [(shard.first, shard.stop) for shard in fanned.shards] == [
        ("alpha", "charlie"),
        ("charlie", "echo"),
        ("echo", None),
    ]
    assert fanned.deadline == T + timedelta(seconds=ports().settings.loop_deadline_seconds)


def test_a_fanned_out_monitor_tick_checks_every_service_once_through_its_shards(world: World) -> None:
    seed(world, "1.0.0")
    outcome = run(world, "monitor", T)
    assert outcome == {"loop": "monitor", "shards": 3, "restores": []}
    assert checks(world) == list(SERVICES)
    assert len(world.store.loop_states.list_loop_states("monitor")) == len(SERVICES)


def test_a_fanned_out_scaling_tick_evaluates_every_service(world: World) -> None:
    seed(world, "1.0.0")
    assert run(world, "scaling", T)["shards"] == 3
    records = world.store.loop_states.list_loop_states("scaling")
    assert sorted(record.key for record in records) == [f"dev/{service}" for service in SERVICES]


def test_a_shard_past_the_ticks_deadline_makes_no_call(world: World) -> None:
    seed(world, "1.0.0")
    assert run(world, "monitor", T, deadline=timedelta(seconds=-1))["restores"] == []
    assert checks(world) == [] and world.health.probes == []


@dataclass
class LoopClient:
    """The durable client as the loop timers use it: statuses by instance id, starts recorded (and then pending)."""

    statuses: dict[str, Any] = field(default_factory=dict)
    started: list[tuple[str, str]] = field(default_factory=list)

    async def get_status(self, instance_id: str, **_: Any) -> Any:
        return self.statuses.get(instance_id)

    async def start_new(self, orchestrator: str, instance_id: str, data: Any = None) -> str:
        self.started.append((orchestrator, instance_id))
        self.statuses[instance_id] = SimpleNamespace(runtime_status=df.OrchestrationRuntimeStatus.Pending, output=None)
        return instance_id


def fire(timer: str, client: LoopClient) -> None:
    handler = product_app.index().get(timer).handler
    asyncio.run(handler.__wrapped__(timer=None, client=client))  # under the SDK's wrapper that builds the client


def test_the_monitor_timer_ticks_a_small_catalog_itself_and_starts_one_fanned_out_run_of_a_larger(world: World) -> None:
    seed(world, "1.0.0")
    client = LoopClient()
    fire("failure_monitor_timer", client)
    assert client.started == [] and checks(world) == list(SERVICES)
    shard_size(2)
    fire("failure_monitor_timer", client)
    fire("failure_monitor_timer", client)  # the first run is still in flight: no second one
    assert client.started == [(LOOP_TICK_ORCHESTRATOR, instance_id("monitor"))]
    assert checks(world) == []
    fire("scaling_timer", client)
    assert client.started[-1] == (LOOP_TICK_ORCHESTRATOR, instance_id("scaling"))


def test_the_rollback_a_shard_decides_on_comes_back_in_the_runs_output(world: World) -> None:
    seed(world, "1.0.0")
    seed(world, "2.0.0")
    failing = world.store.catalog.get_catalog_entry("dev", "delta").revision
    world.health.statuses[failing] = HealthStatus.UNHEALTHY
    assert run(world, "monitor", T)["restores"] == []  # degraded now
    later = T + timedelta(seconds=ports().settings.monitor_degraded_seconds + 1)
    outcome = run(world, "monitor", later)
    restores = [Restore.from_dict(restore) for restore in outcome["restores"]]
    assert len(restores) == 1
    restored = world.store.deployments.get_deployment(restores[0].deployment_id)
    assert restored.release.service("delta").image.endswith(":1.0.0")
    # The monitor timer's next firing starts it, once.
    completed = df.OrchestrationRuntimeStatus.Completed
    client = LoopClient({instance_id("monitor"): SimpleNamespace(runtime_status=completed, output=outcome)})
    fire("failure_monitor_timer", client)
    fire("failure_monitor_timer", client)
    assert client.started == [(DEPLOYMENT_ORCHESTRATOR, restores[0].deployment_id)]
