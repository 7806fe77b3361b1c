"""Rollout plans: the worked examples of each strategy module, and the properties every plan keeps."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.domain.manifest import BlueGreen, Canary, CanaryPause, CanaryStep, RollingHealthGated
from controlplane.domain.rollout import (
    AwaitApproval,
    Pause,
    RunHealthGate,
    ScaleDownStableAfter,
    ScaleRevision,
    SetPreview,
    SetTraffic,
    Step,
    describe,
    plan_rollout,
    rollback_plan,
    step_from_dict,
)
from controlplane.domain.rollout.canary import canary_replicas, plan_canary
from controlplane.domain.rollout.fixed_size import fixed_size
from controlplane.domain.rollout.rolling import resolve_batch_limits, traffic_share
from controlplane.errors import PermanentError


def rolling(surge: int | str, unavailable: int | str) -> RollingHealthGated:
    return RollingHealthGated(type="RollingHealthGated", max_surge=surge, max_unavailable=unavailable)


def canary(*steps: tuple[int, int | bool | None]) -> Canary:
    """Steps as ``(weight, pause)``: pause seconds, True for until-approved, None for no pause."""

    def pause(value: int | bool | None) -> CanaryPause | None:
        if value is None:
            return None
        return CanaryPause(until_approved=True) if value is True else CanaryPause(duration_seconds=value)

    return Canary(type="Canary", steps=[CanaryStep(weight=weight, pause=pause(value)) for weight, value in steps])


def blue_green(auto_promotion: int | None, delay: int) -> BlueGreen:
    return BlueGreen(type="BlueGreen", auto_promotion_seconds=auto_promotion, scale_down_delay_seconds=delay)


# --- worked examples (the tables in the module docstrings) --------------------------------------

ROLLING_EXAMPLES = [
    (4, 4, 1, 0, "new=1, traffic=25, gate, stable=3, new=2, traffic=50, gate, stable=2, "
     "new=3, traffic=75, gate, stable=1, new=4, traffic=100, gate, stable=0"),
    (4, 4, 0, 1, "stable=3, new=1, traffic=33, gate, stable=2, new=2, traffic=67, gate, "
     "stable=1, new=3, traffic=100, gate, stable=0, new=4, gate"),
    (4, 4, "25%", "25%", "new=1, traffic=33, gate, stable=2, new=3, traffic=100, gate, stable=0, new=4, gate"),
    (4, 0, 1, 0, "new=1, traffic=100, gate, new=2, gate, new=3, gate, new=4, gate"),
    (4, 2, 1, 0, "new=1, traffic=33, gate, new=2, traffic=50, gate, new=3, traffic=75, gate, stable=1, "
     "new=4, traffic=100, gate, stable=0"),
    (2, 6, 1, 0, "stable=2, new=1, traffic=50, gate, stable=1, new=2, traffic=100, gate, stable=0"),
    (3, 3, "0%", "25%", "stable=2, new=1, traffic=50, gate, stable=1, new=2, traffic=100, gate, stable=0, "
     "new=3, gate"),
    (0, 3, 1, 0, "traffic=100, stable=0"),
]  # fmt: skip


@pytest.mark.parametrize(("desired", "stable", "surge", "unavailable", "expected"), ROLLING_EXAMPLES)
def test_rolling_worked_examples(desired: int, stable: int, surge: int | str, unavailable: int | str, expected: str):
    assert describe(plan_rollout(rolling(surge, unavailable), desired, stable)) == expected


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [(1, 0, 4, (1, 0)), ("25%", "25%", 4, (1, 1)), ("25%", "25%", 10, (3, 2)), ("50%", "0%", 1, (1, 0)),
     ("0%", "25%", 3, (0, 1)), (3, 2, 0, (3, 2))],
)  # fmt: skip
def test_batch_limits_resolve_percentages_as_kubernetes(surge, unavailable, desired, expected):
    assert resolve_batch_limits(rolling(surge, unavailable), desired) == expected


def test_both_limits_zero_is_refused_by_the_manifest_but_still_makes_progress():
    strategy = RollingHealthGated.model_construct(type="RollingHealthGated", max_surge=0, max_unavailable=0)
    assert resolve_batch_limits(strategy, 2) == (0, 1)
    assert describe(plan_rollout(strategy, 2, 2)) == ("stable=1, new=1, traffic=100, gate, stable=0, new=2, gate")


@pytest.mark.parametrize(
    ("new", "stable", "share"), [(1, 3, 25), (1, 2, 33), (2, 1, 67), (1, 0, 100), (0, 4, 0), (1, 300, 1), (0, 0, None)]
)
def test_traffic_share_follows_ready_replicas(new: int, stable: int, share: int | None):
    assert traffic_share(new, stable) == share


CANARY_EXAMPLES = [
    (4, 4, canary((10, 60), (50, True), (100, None)),
     "new=1, traffic=10, gate, pause=60s, new=2, traffic=50, gate, approval, new=4, traffic=100, gate, stable=0"),
    (10, 10, canary((20, True), (50, None)),
     "new=2, traffic=20, gate, approval, new=5, traffic=50, gate, new=10, traffic=100, gate, stable=0"),
    (1, 1, canary((10, 30), (50, 30)),
     "new=1, traffic=10, gate, pause=30s, traffic=50, gate, pause=30s, traffic=100, gate, stable=0"),
    (3, 0, canary((25, True), (100, None)), "new=3, traffic=100, gate"),
    (0, 2, canary((50, True)), "traffic=100, stable=0"),
]  # fmt: skip


@pytest.mark.parametrize(("desired", "stable", "strategy", "expected"), CANARY_EXAMPLES)
def test_canary_worked_examples(desired: int, stable: int, strategy: Canary, expected: str):
    assert describe(plan_rollout(strategy, desired, stable)) == expected


@pytest.mark.parametrize(
    ("desired", "weight", "replicas"), [(4, 10, 1), (4, 50, 2), (10, 33, 4), (1, 1, 1), (3, 100, 3)]
)
def test_canary_replicas_carry_the_weight(desired: int, weight: int, replicas: int):
    assert canary_replicas(desired, weight) == replicas


def test_canary_refuses_weights_that_do_not_increase():
    strategy = Canary.model_construct(type="Canary", steps=[CanaryStep(weight=50), CanaryStep(weight=20)])
    with pytest.raises(ValueError, match=r"strictly increasing \(got \[50, 20\]\)"):
        plan_canary(strategy, 4, 4)


BLUE_GREEN_EXAMPLES = [
    (3, 3, None, 30, "new=3, preview=on, gate, approval, traffic=100, gate, preview=off, stable=0 after 30s"),
    (3, 3, 60, 30, "new=3, preview=on, gate, pause=60s, traffic=100, gate, preview=off, stable=0 after 30s"),
    (2, 5, 0, 0, "new=2, preview=on, gate, traffic=100, gate, preview=off, stable=0 after 0s"),
    (2, 0, None, 30, "new=2, preview=on, gate, approval, traffic=100, gate, preview=off"),
    (0, 3, None, 30, "traffic=100, stable=0"),
]


@pytest.mark.parametrize(("desired", "stable", "auto_promotion", "delay", "expected"), BLUE_GREEN_EXAMPLES)
def test_blue_green_worked_examples(desired: int, stable: int, auto_promotion: int | None, delay: int, expected: str):
    assert describe(plan_rollout(blue_green(auto_promotion, delay), desired, stable)) == expected


@pytest.mark.parametrize(
    ("stable_replicas", "expected"),
    [(3, "stable=3, traffic=0, preview=off, new=0"), (0, "traffic=0, preview=off, new=0")],
)
def test_rollback_plan_restores_stable_before_moving_traffic(stable_replicas: int, expected: str):
    assert describe(rollback_plan(stable_replicas)) == expected


def test_plans_refuse_negative_replica_counts():
    with pytest.raises(ValueError, match=r"desired: expected an integer >= 0 \(got -1\)"):
        plan_rollout(rolling(1, 0), -1, 0)
    with pytest.raises(ValueError, match="stable"):
        plan_rollout(blue_green(None, 0), 1, -2)


def test_gate_and_approval_reasons_say_what_is_verified():
    steps = plan_rollout(canary((10, True)), 4, 4)
    assert RunHealthGate("canary step 1: 10% traffic on 1 replicas") in steps
    assert AwaitApproval("canary step 1: 10% traffic on the new revision") in steps


# --- properties ---------------------------------------------------------------------------------


@dataclass
class World:
    """What the executor would have done so far: replicas, traffic, and how many new replicas passed a gate."""

    new: int
    stable: int
    traffic: int = 0
    preview: bool = False
    gated: int = 0

    @property
    def ready(self) -> int:
        return self.stable + min(self.gated, self.new)

    def apply(self, step: Step) -> None:
        match step:
            case ScaleRevision(revision="new", replicas=replicas):
                self.new = replicas
            case ScaleRevision(revision="stable", replicas=replicas):
                self.stable = replicas
            case SetTraffic(new_percent=percent):
                self.traffic = percent
            case SetPreview(enabled=enabled):
                self.preview = enabled
            case RunHealthGate():
                self.gated = self.new
            case ScaleDownStableAfter():
                self.stable = 0


def run(steps: list[Step], stable: int, new: int = 0, traffic: int = 0) -> list[World]:
    """The world after each step, starting from the given one."""
    world, seen = World(new=new, stable=stable, traffic=traffic, gated=new), []
    for step in steps:
        world.apply(step)
        seen.append(World(**vars(world)))
    return seen


limit = st.one_of(st.integers(0, 6), st.integers(0, 100).map(lambda percent: f"{percent}%"))
rolling_strategies = (
    st.tuples(limit, limit)
    .filter(lambda pair: {pair[0], pair[1]} - {0, "0%"} != set())
    .map(lambda pair: rolling(*pair))
)
pauses = st.one_of(st.none(), st.just(True), st.integers(1, 3600))
canary_strategies = st.lists(
    st.tuples(st.integers(1, 100), pauses), min_size=1, max_size=8, unique_by=lambda s: s[0]
).map(lambda steps: canary(*sorted(steps)))
blue_green_strategies = st.builds(blue_green, st.one_of(st.none(), st.integers(0, 600)), st.integers(0, 600))
any_strategy = st.one_of(rolling_strategies, canary_strategies, blue_green_strategies)
replicas = st.integers(0, 30)


@given(rolling_strategies, replicas, replicas)
def test_rolling_stays_within_surge_and_unavailable(strategy: RollingHealthGated, desired: int, stable: int):
    surge, unavailable = resolve_batch_limits(strategy, desired)
    for world in run(plan_rollout(strategy, desired, stable), stable):
        assert world.new + world.stable <= max(desired + surge, stable)
        if world.new:
            assert world.new + world.stable <= desired + surge
        assert world.ready >= min(stable, desired - unavailable)
        if unavailable == 0 and world.stable > 0:
            assert world.ready >= min(stable, desired)


@given(any_strategy, replicas, replicas)
def test_every_plan_ends_with_all_replicas_and_traffic_on_new(strategy, desired: int, stable: int):
    final = run(plan_rollout(strategy, desired, stable), stable)[-1]
    assert (final.new, final.stable, final.traffic, final.preview) == (desired, 0, 100, False)


@given(any_strategy, replicas, replicas)
def test_traffic_to_new_never_decreases(strategy, desired: int, stable: int):
    percents = [step.new_percent for step in plan_rollout(strategy, desired, stable) if isinstance(step, SetTraffic)]
    assert percents == sorted(percents)


@given(canary_strategies, st.integers(1, 30), st.integers(1, 30))
def test_canary_sends_each_weight_in_order(strategy: Canary, desired: int, stable: int):
    percents = [step.new_percent for step in plan_rollout(strategy, desired, stable) if isinstance(step, SetTraffic)]
    weights = [step.weight for step in strategy.steps]
    assert percents == (weights if weights[-1] == 100 else [*weights, 100])


@given(any_strategy, st.integers(1, 30), replicas)
def test_a_gate_follows_every_traffic_increase(strategy, desired: int, stable: int):
    steps = plan_rollout(strategy, desired, stable)
    traffic = 0
    for index, step in enumerate(steps):
        if isinstance(step, SetTraffic) and step.new_percent > traffic:
            traffic = step.new_percent
            following = [s for s in steps[index + 1 :] if isinstance(s, SetTraffic | RunHealthGate)]
            assert following and isinstance(following[0], RunHealthGate), describe(steps)


@given(any_strategy, st.integers(1, 30), replicas)
def test_after_the_last_gate_the_plan_only_waits_and_retires_stable(strategy, desired: int, stable: int):
    steps = plan_rollout(strategy, desired, stable)
    last_gate = max(index for index, step in enumerate(steps) if isinstance(step, RunHealthGate))
    for step in steps[last_gate + 1 :]:
        assert step in (ScaleRevision("stable", 0), SetPreview(False)) or isinstance(
            step, Pause | AwaitApproval | ScaleDownStableAfter
        )


@given(any_strategy, st.integers(1, 30), replicas)
def test_no_new_replica_takes_traffic_before_new_replicas_exist(strategy, desired: int, stable: int):
    worlds = run(plan_rollout(strategy, desired, stable), stable)
    assert all(world.new > 0 for world in worlds if world.traffic > 0)


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(0, 100))
def test_rollback_never_has_fewer_ready_replicas_until_new_goes(stable_replicas, stable_now, new, traffic):
    stable_now = min(stable_now, stable_replicas)  # stable may have been scaled down, never up
    before = stable_now + new
    worlds = run(rollback_plan(stable_replicas), stable_now, new=new, traffic=traffic)
    assert all(world.ready >= before for world in worlds[:-1])
    assert (worlds[-1].new, worlds[-1].stable, worlds[-1].traffic) == (0, stable_replicas, 0)
    assert all(world.stable == stable_replicas for world in worlds if world.traffic == 0)


# --- the wire form ------------------------------------------------------------------------------

texts = st.text(min_size=1, max_size=40).filter(str.strip)
counts = st.integers(0, 100_000)
steps = st.one_of(
    st.builds(ScaleRevision, st.sampled_from(["new", "stable"]), counts),
    st.builds(SetTraffic, st.integers(0, 100)),
    st.builds(SetPreview, st.booleans()),
    st.builds(RunHealthGate, texts),
    st.builds(Pause, counts),
    st.builds(AwaitApproval, texts),
    st.builds(ScaleDownStableAfter, counts),
)


@given(steps)
def test_steps_round_trip_through_json(step: Step):
    wire = json.loads(json.dumps(step.to_dict()))
    assert step_from_dict(wire) == step


@given(any_strategy, replicas, replicas)
def test_whole_plans_round_trip(strategy, desired: int, stable: int):
    plan = plan_rollout(strategy, desired, stable)
    assert [step_from_dict(step.to_dict()) for step in plan] == plan


def test_wire_form_names_the_kind_and_fields():
    assert ScaleRevision("new", 3).to_dict() == {"kind": "ScaleRevision", "revision": "new", "replicas": 3}
    assert SetTraffic(25).to_dict() == {"kind": "SetTraffic", "new_percent": 25}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"kind": "Teleport"}, r"step.kind: expected one of ScaleRevision, .* \(got 'Teleport'\)"),
        ({"revision": "new"}, r"step.kind: expected one of"),
        ({"kind": "ScaleRevision", "revision": "new"}, r"step \(ScaleRevision\): missing replicas"),
        ({"kind": "Pause", "seconds": 1, "minutes": 2}, r"step \(Pause\): unknown minutes"),
        ({"kind": "ScaleRevision", "revision": "old", "replicas": 1}, r"revision: expected \"new\" or \"stable\""),
        ({"kind": "SetTraffic", "new_percent": 101}, r"step \(SetTraffic\).new_percent: expected 0..100 \(got 101\)"),
        ({"kind": "Pause", "seconds": True}, r"seconds: expected an integer >= 0 \(got True\)"),
        ({"kind": "SetPreview", "enabled": "yes"}, r"enabled: expected true or false"),
        ({"kind": "RunHealthGate", "reason": " "}, r"reason: expected a non-empty string"),
        (["kind", "Pause"], r"step: expected an object \(got list\)"),
    ],
)
def test_malformed_wire_steps_are_permanent_errors_naming_the_field(document, message: str):
    with pytest.raises(PermanentError, match=message):
        step_from_dict(document)


@pytest.mark.parametrize("strategy", [rolling(1, 0), rolling(0, 1), canary((20, 10), (50, None))])
def test_fixed_size_plans_start_the_new_revision_whole_and_keep_stable_until_it_retires(strategy) -> None:
    planned = plan_rollout(strategy, 4, 4)
    fixed = fixed_size(planned, 4)
    scales = [(s.revision, s.replicas) for s in fixed if isinstance(s, ScaleRevision)]
    assert scales == [("new", 4), ("stable", 0)]
    traffic = [s.new_percent for s in fixed if isinstance(s, SetTraffic)]
    assert traffic == [s.new_percent for s in planned if isinstance(s, SetTraffic)]  # the same traffic steps
    assert sum(isinstance(s, RunHealthGate) for s in fixed) == sum(isinstance(s, RunHealthGate) for s in planned)
    assert fixed.index(ScaleRevision("new", 4)) < next(i for i, s in enumerate(fixed) if isinstance(s, SetTraffic))
