"""bench/deployment_cost.py's counting: the round-trip arithmetic of bench/replay_cost.py on the worked examples of
its docstring, the fast-forward clock's rule, and a 2-service release through the real orchestrator whose figures
hang together."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from controlplane.bootstrap import use_ports
from funchost.durable.episodes import EpisodeReport
from funchost.durable.history import Event, EventType, RuntimeStatus, event, execution_started, timestamp
from funchost.durable.store import InstanceRecord

BENCH = Path(__file__).resolve().parents[2] / "bench"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))  # as when the script runs: its modules sit next to it
    try:
        yield importlib.import_module("deployment_cost")
    finally:
        sys.path.remove(str(BENCH))


def instance(instance_id: str, parent: str | None = None, task: int | None = None) -> InstanceRecord:
    at = timestamp(T0)
    return InstanceRecord(
        instance_id, "o", RuntimeStatus.RUNNING, at, at, parent_instance_id=parent, parent_task_id=task
    )


def scheduled(task: int) -> Event:
    return event(EventType.TASK_SCHEDULED, T0, task, Name="a")


def completed(task: int) -> Event:
    return event(EventType.TASK_COMPLETED, T0, TaskScheduledId=task)


def timer(task: int, at: datetime = T0) -> Event:
    return event(EventType.TIMER_CREATED, T0, task, FireAt=timestamp(at))


def fired(task: int) -> Event:
    return event(EventType.TIMER_FIRED, T0, TimerId=task)


def episode(record: InstanceRecord, *events: Event, replayed: int = 0, end: bool = False) -> EpisodeReport:
    closing = [event(EventType.EXECUTION_COMPLETED, T0, OrchestrationStatus="Completed")] if end else []
    body = [event(EventType.ORCHESTRATOR_STARTED, T0), *events, *closing, event(EventType.ORCHESTRATOR_COMPLETED, T0)]
    return EpisodeReport(record, 0, replayed, tuple(body))


def start(record: InstanceRecord) -> Event:
    return execution_started(T0, "o", None, record.instance_id, "x", None)


def test_a_chain_costs_one_round_trip_per_activity(bench: ModuleType) -> None:
    counter, root = bench.CostCounter(), instance("chain")
    counter(episode(root, start(root), scheduled(0), replayed=2))
    counter(episode(root, completed(0), scheduled(1), replayed=6))
    counter(episode(root, completed(1), timer(2), replayed=10))
    counter(episode(root, fired(2), end=True, replayed=14))

    figures = counter.figures("chain")
    assert (figures.episodes, figures.activities, figures.timers, figures.round_trips) == (4, 2, 1, 3)
    assert (figures.history, figures.replayed) == (16, 32)


def test_a_fan_out_costs_one_round_trip_whatever_its_width(bench: ModuleType) -> None:
    counter, root = bench.CostCounter(), instance("fan")
    counter(episode(root, start(root), *[scheduled(n) for n in range(3)]))
    counter(episode(root, completed(0)))
    counter(episode(root, completed(2), completed(1), scheduled(3)))
    counter(episode(root, completed(3), end=True))

    figures = counter.figures("fan")
    assert (figures.episodes, figures.activities, figures.round_trips) == (4, 4, 2)


def test_a_child_costs_its_start_its_own_round_trips_and_its_answer(bench: ModuleType) -> None:
    counter, parent = bench.CostCounter(), instance("parent")
    child = instance("child", parent="parent", task=0)
    counter(episode(parent, start(parent), event(EventType.SUB_ORCHESTRATION_CREATED, T0, 0, InstanceId="child")))
    counter(episode(child, start(child), scheduled(0)))
    counter(episode(child, completed(0), end=True))
    counter(episode(parent, event(EventType.SUB_ORCHESTRATION_COMPLETED, T0, TaskScheduledId=0), end=True))

    figures = counter.figures("parent")
    assert (figures.instances, figures.episodes, figures.activities, figures.round_trips) == (2, 4, 1, 3)
    assert counter.figures("child").round_trips == 2  # started at 1, then its activity


def test_the_clock_skips_a_wait_only_while_nothing_but_timers_is_outstanding() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        clock = importlib.import_module("fast_forward").FastForward()
    finally:
        sys.path.remove(str(BENCH))
    root = instance("waits")
    later = datetime.now(UTC) + timedelta(hours=1)
    clock.observe(episode(root, start(root), scheduled(0), timer(1, later)))
    assert clock.now() < later, "an activity is still running"
    clock.observe(episode(root, completed(0)))
    assert clock.now() == later, "only the timer is left: its wait is skipped"
    assert clock.now() >= later, "and time goes on from there"


def test_a_release_s_figures_are_positive_and_consistent(bench: ModuleType, tmp_path: Path) -> None:
    world = bench.CountedWorld(tmp_path, bench.CostCounter())
    try:
        world.seed_completed(bench.shortened(bench.rolling(2, "1.0.0")))
        measured = bench.deploy(world, "2_services", "2 services", bench.shortened(bench.rolling(2, "2.0.0")))
    finally:
        world.engine.stop()
        use_ports(None)

    assert measured.state == "Completed"
    figures = measured.figures
    # The release and one sub-orchestration per service; gates probe inside their activities: no timers.
    assert figures.instances == 3 and figures.activities > 0 and figures.timers == 0
    assert figures.replayed >= figures.history
    assert figures.replayed >= 2 * figures.episodes  # each replay walks at least its start and its inbound event
    # The services roll out in parallel: the critical path is shorter than all the work done one at a time.
    assert 0 < figures.round_trips < figures.activities + 2 * (figures.instances - 1)
