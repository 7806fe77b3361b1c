"""Timers longer than the storage provider's maximum are split by the SDK into a chain of shorter timers.

The Azure Storage provider caps a timer at 6 days and the SDK then fires one every 3 days until the
deadline; here the limits are shrunk to seconds so the whole chain runs in a test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import azure.durable_functions as df
import pytest

from funchost.durable.engine import DurableEngine
from funchost.durable.history import Event, EventType, RuntimeStatus, kind_of, parse_timestamp
from funchost.durable.replay import TimerLimits, timespan
from funchost.durable.store import DurableStore
from funchost.functions import FunctionIndex
from funchost.storage.memory_tables import MemoryTables

pytestmark = pytest.mark.slow  # the timer chains run in real time

TIMER_SECONDS = 2.5

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def long_nap(context: df.DurableOrchestrationContext):
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(seconds=context.get_input()))
    return (context.current_utc_datetime - started).total_seconds()


_index = FunctionIndex.of_app(app)  # the SDK indexes an app once; this module's app is indexed here only


def engine_with(limits: TimerLimits) -> Iterator[DurableEngine]:
    engine = DurableEngine(_index, DurableStore(MemoryTables(), "Timers"), limits=limits)
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def whole_seconds() -> Iterator[DurableEngine]:
    yield from engine_with(
        TimerLimits(maximum_short_timer=timedelta(seconds=1), long_timer_interval=timedelta(seconds=1))
    )


@pytest.fixture
def sub_second() -> Iterator[DurableEngine]:
    yield from engine_with(
        TimerLimits(maximum_short_timer=timedelta(seconds=1), long_timer_interval=timedelta(milliseconds=400))
    )


def nap(engine: DurableEngine) -> tuple[float, float, list[Event]]:
    """Run ``long_nap``: wall-clock seconds until it finished, the orchestration's own count, its history."""
    began = time.monotonic()
    instance_id = engine.start_new("long_nap", None, str(TIMER_SECONDS))
    record = engine.wait(instance_id, timeout=8)
    elapsed = time.monotonic() - began
    assert record.status is RuntimeStatus.COMPLETED, record.output
    return elapsed, float(record.output), engine.history(instance_id)


def timers(history: list[Event], kind: EventType) -> list[Event]:
    return [e for e in history if kind_of(e) is kind]


def test_a_long_timer_fires_once_its_whole_duration_passed_through_intervals(whole_seconds: DurableEngine) -> None:
    elapsed, slept, history = nap(whole_seconds)

    assert elapsed >= TIMER_SECONDS
    assert slept >= TIMER_SECONDS
    created = timers(history, EventType.TIMER_CREATED)
    # 2.5 s with a 1 s maximum: 1 s, 1 s, then the 0.5 s left; each fires before the next is created
    assert len(created) == 3
    assert len(timers(history, EventType.TIMER_FIRED)) == 3
    fire_times = [parse_timestamp(e["FireAt"]) for e in created]
    assert fire_times == sorted(fire_times)
    started = parse_timestamp(history[0]["Timestamp"])
    assert fire_times[-1] - started == timedelta(seconds=TIMER_SECONDS)


def test_a_sub_second_interval_splits_the_timer_into_several(sub_second: DurableEngine) -> None:
    elapsed, _, history = nap(sub_second)

    assert elapsed >= TIMER_SECONDS
    # 0.4 s steps while more than 1 s is left (4 of them), then the last 0.9 s
    assert len(timers(history, EventType.TIMER_CREATED)) == 5


def test_timespans_keep_fractions_of_a_second() -> None:
    assert timespan(timedelta(milliseconds=400)) == "0.00:00:00.4000000"
