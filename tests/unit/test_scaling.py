"""HPA-style scaling decisions: every rule of controlplane.domain.scaling, driven tick by tick."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.domain.manifest.service import ScalingPolicy
from controlplane.domain.runtime import MetricKind, MetricReading
from controlplane.domain.scaling import Decision, ScalingState, decide
from tests.builders import T0


def policy(**overrides: Any) -> ScalingPolicy:
    fields: dict[str, Any] = {
        "min_replicas": 1,
        "max_replicas": 10,
        "cooldown_seconds": 0,
        "stabilization_window_seconds": 0,
        "rules": [{"metric": "cpu", "target": 70}],
    }
    return ScalingPolicy(**(fields | overrides))


def event_driven(**overrides: Any) -> ScalingPolicy:
    fields: dict[str, Any] = {
        "min_replicas": 0,
        "scale_to_zero": True,
        "target": "event-driven",
        "activation_threshold": 1,
        "rules": [{"metric": "queue", "target": 10}],
    }
    return policy(**(fields | overrides))


def cpu(value: float | None) -> MetricReading:
    return MetricReading(MetricKind.CPU, value)


def rps(value: float | None) -> MetricReading:
    return MetricReading(MetricKind.RPS, value)


def queue(value: float | None) -> MetricReading:
    return MetricReading(MetricKind.QUEUE, value)


def at(seconds: float) -> Any:
    return T0 + timedelta(seconds=seconds)


class Loop:
    """The scaling loop in miniature: applies each decision and keeps the state, like the handler will."""

    def __init__(self, scaling: ScalingPolicy, replicas: int, state: ScalingState | None = None) -> None:
        self.policy, self.replicas, self.state = scaling, replicas, state or ScalingState()
        self.decisions: list[Decision] = []

    def tick(self, seconds: float, *readings: MetricReading) -> Decision:
        decision = decide(self.policy, self.replicas, list(readings), self.state, at(seconds))
        self.replicas, self.state = decision.replicas, decision.state
        self.decisions.append(decision)
        return decision


def test_scales_up_at_once() -> None:
    decision = decide(policy(stabilization_window_seconds=300), 2, [cpu(140)], ScalingState(), T0)
    assert (decision.replicas, decision.change, decision.rule) == (4, True, "cpu")
    assert decision.reason == "cpu 140.0 vs target 70 → 4 replicas"
    assert decision.metrics == {"cpu": 140}
    assert decision.state.last_change_at == T0


def test_holds_within_tolerance_and_moves_beyond_it() -> None:
    assert decide(policy(), 4, [cpu(75)], ScalingState(), T0).change is False  # ratio 1.07
    assert decide(policy(), 4, [cpu(64)], ScalingState(), T0).change is False  # ratio 0.91
    assert decide(policy(), 4, [cpu(78)], ScalingState(), T0).replicas == 5  # ratio 1.11 → ceil(4.46)


def test_clamps_to_max_and_min() -> None:
    assert decide(policy(), 3, [cpu(1000)], ScalingState(), T0).replicas == 10
    assert decide(policy(min_replicas=2), 3, [cpu(1)], ScalingState(), T0).replicas == 2


def test_scales_down_only_after_the_stabilization_window() -> None:
    loop = Loop(policy(stabilization_window_seconds=300), 2)
    assert loop.tick(0, cpu(140)).replicas == 4
    for seconds in range(30, 300, 30):
        held = loop.tick(seconds, cpu(20))
        assert (held.replicas, held.change) == (4, False)
        assert held.reason.startswith("held: stabilizing")
    down = loop.tick(300, cpu(20))
    assert (down.replicas, down.change) == (2, True)


def test_cooldown_holds_changes_in_both_directions() -> None:
    loop = Loop(policy(cooldown_seconds=60), 2)
    loop.tick(0, cpu(140))
    up = loop.tick(30, cpu(140))
    assert (up.replicas, up.change) == (4, False)
    assert up.reason.startswith("held: cooldown until 2026-11-26T12:01:00")
    assert loop.tick(45, cpu(10)).replicas == 4
    assert loop.tick(60, cpu(10)).replicas == 1


def test_flapping_load_does_not_flap_replicas() -> None:
    loop = Loop(policy(stabilization_window_seconds=300, cooldown_seconds=30), 2)
    for tick in range(40):  # total load alternates high and low every 30 s; cpu is load per replica
        load = 280 if tick % 2 == 0 else 80
        loop.tick(tick * 30, cpu(load / loop.replicas))
    assert [decision.replicas for decision in loop.decisions if decision.change] == [4]


def test_scales_to_zero_only_for_event_driven_targets_below_activation() -> None:
    assert decide(event_driven(), 1, [queue(0.5)], ScalingState(), T0).replicas == 0
    assert decide(event_driven(), 1, [queue(1)], ScalingState(), T0).replicas == 1
    assert decide(policy(rules=[{"metric": "rps", "target": 50}]), 1, [rps(0)], ScalingState(), T0).replicas == 1
    not_to_zero = event_driven(min_replicas=1, scale_to_zero=False, activation_threshold=None)
    assert decide(not_to_zero, 1, [queue(0)], ScalingState(), T0).replicas == 1


def test_scale_to_zero_waits_for_the_stabilization_window() -> None:
    loop = Loop(event_driven(stabilization_window_seconds=300), 1)
    loop.tick(0, queue(5))
    assert loop.tick(60, queue(0)).replicas == 1
    zero = loop.tick(300, queue(0))
    assert (zero.replicas, zero.change) == (0, True)
    assert zero.reason == "queue 0.0 below activation 1 → 0 replicas"
    assert loop.tick(330, queue(0.9)).replicas == 0


def test_wakes_from_zero_when_activation_is_reached_even_in_cooldown() -> None:
    just_changed = ScalingState(last_change_at=T0)
    scaling = event_driven(cooldown_seconds=300)
    assert decide(scaling, 0, [queue(0.5)], just_changed, at(10)).replicas == 0
    woken = decide(scaling, 0, [queue(3)], just_changed, at(10))
    assert (woken.replicas, woken.change) == (1, True)
    assert decide(scaling, 0, [queue(45)], just_changed, at(10)).replicas == 5  # ceil(45 / 10), KEDA-style


def test_event_driven_queue_counts_total_length_not_per_replica() -> None:
    assert decide(event_driven(), 2, [queue(45)], ScalingState(), T0).replicas == 5
    assert decide(event_driven(), 5, [queue(48)], ScalingState(), T0).change is False  # within tolerance


def test_missing_metrics_hold_and_never_scale_down() -> None:
    held = decide(policy(), 4, [cpu(None)], ScalingState(), T0)
    assert (held.replicas, held.change, held.reason) == (4, False, "held: no data for cpu")
    assert held.metrics == {"cpu": None}
    assert decide(policy(), 4, [], ScalingState(), T0).reason == "held: no data for cpu"
    both = policy(rules=[{"metric": "cpu", "target": 70}, {"metric": "rps", "target": 50}])
    partial = decide(both, 4, [cpu(20), rps(None)], ScalingState(), T0)
    assert (partial.replicas, partial.reason) == (4, "held: no data for rps")
    assert decide(both, 4, [cpu(140), rps(None)], ScalingState(), T0).replicas == 8  # up is still safe


def test_missing_metrics_never_scale_to_zero() -> None:
    scaling = policy(
        min_replicas=0,
        scale_to_zero=True,
        target="event-driven",
        activation_threshold=1,
        rules=[{"metric": "queue", "target": 10}, {"metric": "rps", "target": 50}],
    )
    assert decide(scaling, 1, [queue(0), rps(None)], ScalingState(), T0).replicas == 1
    assert decide(scaling, 1, [queue(None), rps(None)], ScalingState(), T0).replicas == 1
    assert decide(scaling, 0, [queue(None), rps(None)], ScalingState(), T0).replicas == 0


def test_violation_reported_once_per_episode_and_reset_when_demand_drops() -> None:
    loop = Loop(policy(rules=[{"metric": "rps", "target": 50}]), 2)
    flagged = [loop.tick(seconds, rps(1000)).violated for seconds in range(0, 150, 30)]
    assert flagged == [False, False, True, False, False]  # at max from 0 s; reported at 60 s, once
    assert loop.tick(150, rps(40)).state.violation_since is None
    again = [loop.tick(seconds, rps(1000)).violated for seconds in range(180, 270, 30)]
    assert again == [False, False, True]


def test_unmet_demand_at_max_counts_as_violation() -> None:
    state = ScalingState(violation_since=T0)
    decision = decide(policy(), 10, [cpu(90)], state, at(60))
    assert (decision.replicas, decision.violated) == (10, True)
    assert decide(policy(), 10, [cpu(72)], state, at(60)).violated is False  # within tolerance: demand met


def test_largest_rule_wins() -> None:
    both = policy(rules=[{"metric": "cpu", "target": 40}, {"metric": "rps", "target": 50}])
    decision = decide(both, 2, [cpu(30), rps(150)], ScalingState(), T0)  # rps is the service's total
    assert (decision.replicas, decision.rule) == (3, "rps")
    assert decision.reason == "rps 150.0 vs target 50 → 3 replicas"


def test_state_round_trips_through_json() -> None:
    loop = Loop(policy(stabilization_window_seconds=300, rules=[{"metric": "rps", "target": 50}]), 2)
    for seconds in (0, 30, 60, 90):
        loop.tick(seconds, rps(1000 if seconds < 60 else 10))
    state = ScalingState(
        recommendations=loop.state.recommendations, last_change_at=at(5), violation_since=at(7), violation_reported=True
    )
    assert ScalingState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert ScalingState.from_dict(json.loads(json.dumps(ScalingState().to_dict()))) == ScalingState()


def test_decisions_survive_a_restart() -> None:
    loop = Loop(policy(stabilization_window_seconds=300, cooldown_seconds=60), 2)
    loop.tick(0, cpu(140))
    restored = ScalingState.from_dict(json.loads(json.dumps(loop.state.to_dict())))
    assert decide(loop.policy, 4, [cpu(10)], restored, at(120)).replicas == 4  # window still remembers 4


values = st.one_of(st.none(), st.floats(min_value=0, max_value=10_000, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(
    low=st.integers(1, 5),
    span=st.integers(0, 20),
    to_zero=st.booleans(),
    current=st.integers(0, 40),
    ticks=st.lists(st.tuples(st.integers(0, 400), values, values, values), min_size=1, max_size=8),
)
def test_replicas_always_within_policy_bounds(
    low: int, span: int, to_zero: bool, current: int, ticks: list[tuple[int, Any, Any, Any]]
) -> None:
    rules = [{"metric": "cpu", "target": 60}, {"metric": "queue", "target": 5}, {"metric": "rps", "target": 20}]
    extra: dict[str, Any] = {"scale_to_zero": True, "target": "event-driven", "activation_threshold": 2}
    scaling = policy(min_replicas=low, max_replicas=low + span, rules=rules, **(extra if to_zero else {}))
    loop = Loop(scaling.model_copy(update={"cooldown_seconds": 60, "stabilization_window_seconds": 120}), current)
    elapsed = 0
    for step, load, length, requests in ticks:
        elapsed += step
        decision = loop.tick(elapsed, cpu(load), queue(length), rps(requests))
        assert (0 if to_zero else low) <= decision.replicas <= low + span


def test_a_first_evaluation_does_not_scale_down_before_a_window_has_passed() -> None:
    scaling = policy(stabilization_window_seconds=120, cooldown_seconds=0)
    first = decide(scaling, 4, [cpu(10)], ScalingState(), T0)  # just deployed with 4, idle
    assert (first.replicas, first.change) == (4, False) and first.reason.startswith("held: stabilizing")
    later = decide(scaling, 4, [cpu(10)], first.state, at(121))
    assert later.replicas == 1
