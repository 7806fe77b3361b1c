"""The scaling loop: policies evaluated against live metrics, applied through Compute, remembered in the store."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import TraceContext, new_event
from controlplane.domain.manifest import parse_release
from controlplane.errors import TransientError
from controlplane.ports import Compute
from controlplane.services.overview import overview, scaling_history
from controlplane.services.scaling import APPLY_LEASE, Scaler
from tests.workflow_world import World, release
from triggers.loops import scaler_over

T = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = {
    "minReplicas": 1,
    "maxReplicas": 6,
    "cooldownSeconds": 60,
    "stabilizationWindowSeconds": 120,
    "rules": [{"metric": "cpu", "target": 50}],
}


def deployed(world: World, **policy: Any) -> str:
    """Seed what a Completed deployment of orders with a scaling policy leaves; the serving revision."""
    document = copy.deepcopy(release("1.0.0").to_dict())
    document["spec"]["services"][0]["scaling"] = {**POLICY, **policy}
    world.seed_completed(parse_release(document))
    return world.store.catalog.get_catalog_entry("dev", "orders").revision


def scaler(world: World, compute: Compute | None = None) -> Scaler:
    return scaler_over(world.store, world.bus, compute or world.compute, world.metrics, "/tests/scaling")


def replicas(world: World, revision: str) -> int:
    return next(w.replicas for w in world.compute.inventory("dev") if w.revision == revision)


def published(world: World, event_type: EventType) -> list[dict[str, Any]]:
    return [dict(e.data) for e in world.bus.published if e.type == event_type.value]


def test_high_cpu_scales_up_at_once_and_says_why(world: World) -> None:
    revision = deployed(world)
    world.metrics.set("dev", "orders", cpu=100.0)

    outcome = scaler(world).evaluate("dev", "orders", T)

    assert outcome["replicas"] == 4 and replicas(world, revision) == 4
    [applied] = published(world, EventType.SCALING_POLICY_APPLIED)
    assert (applied["from"], applied["to"], applied["rule"], applied["metrics"]) == (2, 4, "cpu", {"cpu": 100.0})
    stored = world.store.loop_states.get_loop_state("scaling", "dev/orders")
    assert stored is not None and stored.body["pending"] is None and stored.body["last"]["replicas"] == 4


def test_flapping_metrics_do_not_flap_replicas(world: World) -> None:
    revision = deployed(world)
    loop = scaler(world)
    history = []
    for tick in range(12):  # every 10 s: cpu alternates between double and half the target
        world.metrics.set("dev", "orders", cpu=100.0 if tick % 2 == 0 else 25.0)
        loop.evaluate("dev", "orders", T + timedelta(seconds=10 * tick))
        history.append(replicas(world, revision))

    # Up at once, up again only after the cooldown; every scale-down is held by the stabilization window.
    assert history == [4] * 6 + [6] * 6
    assert [(a["from"], a["to"]) for a in published(world, EventType.SCALING_POLICY_APPLIED)] == [(2, 4), (4, 6)]


def test_a_metric_outage_holds_the_replicas_and_reports_it(world: World) -> None:
    revision = deployed(world)
    world.metrics.set("dev", "orders", cpu=None)

    outcome = scaler(world).evaluate("dev", "orders", T)

    assert outcome["changed"] is False and "no data for cpu" in outcome["reason"]
    assert replicas(world, revision) == 2 and published(world, EventType.SCALING_POLICY_APPLIED) == []


def test_scale_down_waits_for_the_window_and_the_cooldown(world: World) -> None:
    revision = deployed(world)
    loop = scaler(world)
    world.metrics.set("dev", "orders", cpu=100.0)
    loop.evaluate("dev", "orders", T)
    world.metrics.set("dev", "orders", cpu=10.0)
    loop.evaluate("dev", "orders", T + timedelta(seconds=30))
    assert replicas(world, revision) == 4  # within the window and the cooldown

    later = scaler(world)  # a restarted host: the state comes from the store
    later.evaluate("dev", "orders", T + timedelta(seconds=200))
    assert replicas(world, revision) == 1
    assert [(a["from"], a["to"]) for a in published(world, EventType.SCALING_POLICY_APPLIED)] == [(2, 4), (4, 1)]


def test_sustained_demand_beyond_max_is_reported_once_per_episode(world: World) -> None:
    deployed(world, maxReplicas=3)
    loop = scaler(world)
    world.metrics.set("dev", "orders", cpu=400.0)
    for tick in range(10):
        loop.evaluate("dev", "orders", T + timedelta(seconds=15 * tick))

    [violated] = published(world, EventType.SCALING_POLICY_VIOLATED)
    assert violated["maxReplicas"] == 3 and violated["desired"] > 3


def health_event(event_id: str) -> Any:
    return new_event(
        EventType.HEALTH_CHECK_COMPLETED,
        event_id=event_id,
        source="/tests",
        time=T,
        trace=TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "dev/orders"),
        data={"environment": "dev", "service": "orders", "revision": "r", "report": {}},
    )


def test_a_duplicate_health_check_delivery_is_evaluated_once(world: World) -> None:
    deployed(world)
    world.metrics.set("dev", "orders", cpu=100.0)
    loop = scaler(world)
    reads = world.metrics.reads

    first = loop.on_event(health_event("evt-1"), T)
    second = loop.on_event(health_event("evt-1"), T + timedelta(seconds=1))

    assert first is not None and first["replicas"] == 4
    assert second == {"skipped": "duplicate delivery of evt-1"}
    assert world.metrics.reads == reads + 1
    [applied] = [e for e in world.bus.published if e.type == EventType.SCALING_POLICY_APPLIED.value]
    assert applied.traceid == "4bf92f3577b34da6a3ce929d0e0e4736" and applied.causationid == "evt-1"


class FlakyScale:
    """Compute whose next scale call fails, as a crash between deciding and applying would."""

    def __init__(self, compute: Any) -> None:
        self._compute = compute
        self.fail_next = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compute, name)

    def scale(self, *arguments: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise TransientError("connection reset")
        self._compute.scale(*arguments)


def test_a_decision_interrupted_before_it_was_applied_is_finished_by_the_next_evaluation(world: World) -> None:
    revision = deployed(world)
    world.metrics.set("dev", "orders", cpu=100.0)
    flaky = FlakyScale(world.compute)
    loop = scaler(world, flaky)
    with pytest.raises(TransientError):
        loop.evaluate("dev", "orders", T)
    assert replicas(world, revision) == 2

    loop.evaluate("dev", "orders", T + timedelta(seconds=5))

    assert replicas(world, revision) == 4
    assert [(a["from"], a["to"]) for a in published(world, EventType.SCALING_POLICY_APPLIED)] == [(2, 4)]


def test_a_service_without_a_policy_or_with_a_rollout_in_flight_is_left_alone(world: World) -> None:
    world.seed_completed(release("1.0.0"))
    assert scaler(world).evaluate("dev", "orders", T)["skipped"] == "no scaling policy"
    assert scaler(world).evaluate("dev", "payments", T)["skipped"] == "not deployed"


class DyingScale(FlakyScale):
    """Compute whose scale call never returns, as a host killed mid-apply."""

    def scale(self, *arguments: Any) -> None:
        raise SystemExit("killed")


def test_a_change_another_evaluation_is_applying_is_left_to_it_until_its_lease_runs_out(world: World) -> None:
    revision = deployed(world)
    world.metrics.set("dev", "orders", cpu=100.0)
    died = scaler(world, DyingScale(world.compute))
    with pytest.raises(SystemExit):  # the process died while scaling: nothing gives the lease back
        died.evaluate("dev", "orders", T)

    during = scaler(world).evaluate("dev", "orders", T + APPLY_LEASE - timedelta(seconds=1))
    assert during["skipped"] == "the change decided at 2026-11-26T12:00:00.000000Z is being applied"
    assert replicas(world, revision) == 2

    world.metrics.set("dev", "orders", cpu=50.0)  # demand met at 4: only the unfinished change applies
    scaler(world).evaluate("dev", "orders", T + APPLY_LEASE)
    assert replicas(world, revision) == 4
    assert [(a["from"], a["to"]) for a in published(world, EventType.SCALING_POLICY_APPLIED)] == [(2, 4)]


def test_a_health_check_whose_evaluation_failed_is_evaluated_again_when_redelivered(world: World) -> None:
    revision = deployed(world)
    world.metrics.set("dev", "orders", cpu=100.0)
    loop = scaler(world, FlakyScale(world.compute))
    with pytest.raises(TransientError):
        loop.on_event(health_event("evt-1"), T)

    again = loop.on_event(health_event("evt-1"), T + timedelta(seconds=1))  # Service Bus redelivers at once

    assert again is not None and "skipped" not in again
    assert replicas(world, revision) == 4
    assert loop.on_event(health_event("evt-1"), T + timedelta(seconds=2)) == {"skipped": "duplicate delivery of evt-1"}


def test_every_evaluation_is_kept_with_its_metric_values_and_bounds_for_the_history(world: World) -> None:
    deployed(world)
    loop = scaler(world)
    for tick, cpu in enumerate([100.0, 50.0, None]):
        world.metrics.set("dev", "orders", cpu=cpu)
        loop.evaluate("dev", "orders", T + timedelta(seconds=10 * tick))

    history = scaling_history(world.store.catalog, world.store.deployments, world.store.loop_states, "dev", "orders")

    assert history["policy"] == {"minReplicas": 1, "maxReplicas": 6, "rules": [{"metric": "cpu", "target": 50.0}]}
    steps = [
        (e["current"], e["replicas"], e["metrics"], e["minReplicas"], e["maxReplicas"]) for e in history["evaluations"]
    ]
    assert steps == [(2, 4, {"cpu": 100.0}, 1, 6), (4, 4, {"cpu": 50.0}, 1, 6), (4, 4, {"cpu": None}, 1, 6)]
    assert "no data for cpu" in history["evaluations"][-1]["reason"]
    [view] = overview(
        world.store.catalog.list_catalog(), world.store.deployments, world.store.loop_states, world.compute
    )
    assert "history" not in view["scaling"] and view["scaling"]["last"]["replicas"] == 4
