"""The timer scheduler with a fake clock and in-memory status tables."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

from funchost.errors import NotFound
from funchost.function_checks import FunctionAppRefused
from funchost.functions import TIMER, FunctionEntry, FunctionIndex
from funchost.storage.memory_tables import MemoryTables
from funchost.storage.tables import Entity
from funchost.timers import (
    STATUS_PARTITION,
    STATUS_TABLE,
    ScheduleStatus,
    TimerInfo,
    TimerScheduler,
    check_schedules,
    resolve_schedule,
)

EVERY_5_MINUTES = "0 */5 * * * *"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Invocations:
    """A recording ``invoke`` callback; raises ``failure`` when set."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.calls: list[tuple[str, TimerInfo]] = []
        self.failure = failure

    def __call__(self, entry: FunctionEntry, info: TimerInfo) -> None:
        self.calls.append((entry.name, info))
        if self.failure:
            raise self.failure

    @property
    def past_due(self) -> list[bool]:
        return [info.past_due for _, info in self.calls]


def timer(name: str = "tick", schedule: str = EVERY_5_MINUTES, **options: Any) -> FunctionEntry:
    trigger = {"direction": "IN", "type": TIMER, "name": "timer", "schedule": schedule, **options}
    return FunctionEntry(name=name, trigger_type=TIMER, trigger=trigger, inputs=(), handler=lambda timer: None)


def scheduler(
    tables: MemoryTables,
    clock: FakeClock,
    invoke: Invocations,
    *entries: FunctionEntry,
    settings: Mapping[str, str] | None = None,
) -> TimerScheduler:
    return TimerScheduler(entries or (timer(),), invoke, tables, clock, settings or {})


def stored_status(tables: MemoryTables, name: str = "tick") -> dict[str, Any]:
    return dict(tables.get(STATUS_TABLE, STATUS_PARTITION, name).body)


def stored_names(tables: MemoryTables) -> list[str]:
    try:
        return [document.row for document in tables.query(STATUS_TABLE)]
    except NotFound:  # the table is only created when some timer is monitored
        return []


@pytest.fixture
def tables() -> MemoryTables:
    return MemoryTables()


def test_fires_at_each_occurrence_and_not_in_between(tables: MemoryTables) -> None:
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 2)), Invocations()
    timers = scheduler(tables, clock, invoke)

    assert timers.run_due(clock.now) == []
    assert timers.next_due() == utc(2025, 1, 1, 0, 5)
    assert timers.run_due(utc(2025, 1, 1, 0, 4, 59)) == []
    assert timers.run_due(utc(2025, 1, 1, 0, 5)) == ["tick"]
    assert timers.run_due(utc(2025, 1, 1, 0, 5)) == []
    assert timers.next_due() == utc(2025, 1, 1, 0, 10)
    assert timers.run_due(utc(2025, 1, 1, 0, 10)) == ["tick"]
    assert invoke.past_due == [False, False]


def test_saves_the_status_after_each_firing(tables: MemoryTables) -> None:
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 2)), Invocations()
    timers = scheduler(tables, clock, invoke)
    timers.run_due(clock.now)
    assert stored_status(tables) == {
        "last": None,
        "next": "2025-01-01T00:05:00+00:00",
        "lastUpdated": "2025-01-01T00:02:00+00:00",
    }

    timers.run_due(utc(2025, 1, 1, 0, 5))

    assert stored_status(tables) == {
        "last": "2025-01-01T00:05:00+00:00",
        "next": "2025-01-01T00:10:00+00:00",
        "lastUpdated": "2025-01-01T00:05:00+00:00",
    }
    # The function saw the status as it was before this firing, as in Azure.
    _, info = invoke.calls[0]
    assert info.schedule_status == ScheduleStatus(None, utc(2025, 1, 1, 0, 5), utc(2025, 1, 1, 0, 2))


def test_run_on_startup_fires_once_at_start_then_on_schedule(tables: MemoryTables) -> None:
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 2)), Invocations()
    timers = scheduler(tables, clock, invoke, timer(runOnStartup=True))

    assert timers.next_due() == clock.now
    assert timers.run_due(clock.now) == ["tick"]
    assert timers.run_due(clock.now) == []
    assert timers.run_due(utc(2025, 1, 1, 0, 5)) == ["tick"]
    assert invoke.past_due == [False, False]


def test_a_missed_occurrence_fires_once_past_due_after_a_restart(tables: MemoryTables) -> None:
    first = scheduler(tables, FakeClock(utc(2025, 1, 1, 0, 2)), Invocations())
    first.run_due(utc(2025, 1, 1, 0, 5))  # status: next 00:10; then the host is down until 00:17

    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 17)), Invocations()
    restarted = scheduler(tables, clock, invoke)

    assert restarted.run_due(clock.now) == ["tick"]
    assert invoke.past_due == [True]
    _, info = invoke.calls[0]
    assert info.schedule_status is not None
    assert info.schedule_status.last == utc(2025, 1, 1, 0, 5)
    assert info.schedule_status.next == utc(2025, 1, 1, 0, 10)
    assert restarted.next_due() == utc(2025, 1, 1, 0, 20)
    assert restarted.run_due(utc(2025, 1, 1, 0, 20)) == ["tick"]
    assert invoke.past_due == [True, False]


def test_past_due_wins_over_run_on_startup_and_fires_once(tables: MemoryTables) -> None:
    scheduler(tables, FakeClock(utc(2025, 1, 1, 0, 2)), Invocations()).run_due(utc(2025, 1, 1, 0, 2))
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 7)), Invocations()
    restarted = scheduler(tables, clock, invoke, timer(runOnStartup=True))
    assert restarted.run_due(clock.now) == ["tick"]
    assert invoke.past_due == [True]


def test_a_restart_before_the_next_occurrence_fires_nothing(tables: MemoryTables) -> None:
    scheduler(tables, FakeClock(utc(2025, 1, 1, 0, 2)), Invocations()).run_due(utc(2025, 1, 1, 0, 5))
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 8)), Invocations()
    assert scheduler(tables, clock, invoke).run_due(clock.now) == []
    assert invoke.calls == []


def test_a_schedule_edited_while_down_is_past_due_by_the_new_schedule(tables: MemoryTables) -> None:
    daily = ScheduleStatus(last=utc(2025, 1, 1), next=utc(2025, 1, 2), last_updated=utc(2025, 1, 1))
    tables.create_tables([STATUS_TABLE])
    tables.upsert(STATUS_TABLE, Entity(STATUS_PARTITION, "tick", daily.to_body()))
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 12)), Invocations()

    assert scheduler(tables, clock, invoke).run_due(clock.now) == ["tick"]
    assert invoke.past_due == [True]
    assert invoke.calls[0][1].schedule_status.next == utc(2025, 1, 1, 0, 5)


def test_without_use_monitor_nothing_is_stored_and_nothing_is_past_due(tables: MemoryTables) -> None:
    unmonitored = timer(useMonitor=False)
    scheduler(tables, FakeClock(utc(2025, 1, 1, 0, 2)), Invocations(), unmonitored).run_due(utc(2025, 1, 1, 0, 5))
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 17)), Invocations()
    assert scheduler(tables, clock, invoke, unmonitored).run_due(clock.now) == []
    assert invoke.calls == []
    assert stored_names(tables) == []


def test_schedules_firing_more_than_once_a_minute_are_not_monitored(tables: MemoryTables) -> None:
    clock, invoke = FakeClock(utc(2025, 1, 1)), Invocations()
    timers = scheduler(tables, clock, invoke, timer(schedule="*/30 * * * * *"), timer("slow", "00:00:30"))
    assert sorted(timers.run_due(utc(2025, 1, 1, 0, 0, 30))) == ["slow", "tick"]
    assert all(info.schedule_status is None for _, info in invoke.calls)
    assert stored_names(tables) == []


def test_only_x_star_star_star_star_star_schedules_lose_the_monitor(tables: MemoryTables) -> None:
    # TimerSchedule.ShouldDisableScheduleMonitor: every field but seconds must be "*"; "* 5 * * * *" fires
    # sixty times in minute 5 of each hour and stays monitored on Azure too.
    clock, invoke = FakeClock(utc(2025, 1, 1)), Invocations()
    timers = scheduler(tables, clock, invoke, timer("burst", "* 5 * * * *"), timer("minutely", "* * * * *"))
    timers.run_due(clock.now)
    assert stored_names(tables) == ["burst", "minutely"]


def test_a_late_firing_is_never_past_due_while_the_host_runs(tables: MemoryTables) -> None:
    # TimerListener.HandleTimerEvent: only the start-up firing passes isPastDue.
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 2)), Invocations()
    timers = scheduler(tables, clock, invoke)
    timers.run_due(clock.now)
    assert timers.run_due(utc(2025, 1, 1, 0, 6)) == ["tick"]  # a minute late
    assert timers.run_due(utc(2025, 1, 1, 0, 21)) == ["tick"]  # 00:10, 00:15 and 00:20 fold into one
    assert invoke.past_due == [False, False]
    assert timers.next_due() == utc(2025, 1, 1, 0, 25)


def test_a_zero_timespan_fires_again_as_soon_as_it_ends(tables: MemoryTables, caplog: pytest.LogCaptureFixture) -> None:
    # ConstantSchedule gives now + 0; TimerListener.GetNextTimerInterval makes that one tick: at once, again.
    clock, invoke = FakeClock(utc(2025, 1, 1)), Invocations()
    with caplog.at_level(logging.WARNING, logger="funchost.timers"):
        timers = scheduler(tables, clock, invoke, timer(schedule="00:00:00"), timer("behind", "-00:00:30"))
    assert "fires again as soon as it ends" in caplog.text
    assert sorted(timers.run_due(clock.now)) == ["behind", "tick"]
    assert sorted(timers.run_due(clock.now)) == ["behind", "tick"]
    assert timers.next_due() == utc(2024, 12, 31, 23, 59, 30)
    assert stored_names(tables) == []


def test_a_schedule_with_no_occurrence_is_accepted_and_never_fires(
    tables: MemoryTables, caplog: pytest.LogCaptureFixture
) -> None:
    # NCrontab parses "0 0 0 30 2 *" and answers DateTime.MaxValue for its next occurrence.
    clock, invoke = FakeClock(utc(2025, 1, 1)), Invocations()
    timers = scheduler(tables, clock, invoke, timer(schedule="0 0 0 30 2 *"))
    with caplog.at_level(logging.WARNING, logger="funchost.timers"):
        assert timers.run_due(utc(2100, 1, 1)) == []
    assert "has no occurrence; it never fires" in caplog.text
    assert stored_status(tables)["next"].startswith("9999-12-31T23:59:59")


def test_app_setting_references_are_resolved(tables: MemoryTables) -> None:
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 2)), Invocations()
    entry = timer(schedule="%TICK_SCHEDULE%")
    timers = scheduler(tables, clock, invoke, entry, settings={"TICK_SCHEDULE": EVERY_5_MINUTES})
    assert timers.run_due(utc(2025, 1, 1, 0, 5)) == ["tick"]

    partial = timer(schedule="0 %TICK_MINUTES% * * * *")
    timers = scheduler(MemoryTables(), clock, invoke, partial, settings={"TICK_MINUTES": "*/10"})
    assert timers.next_due() == utc(2025, 1, 1, 0, 10)


@pytest.mark.parametrize(
    ("schedule", "settings", "resolved"),
    [
        ("%tick_schedule%", {"TICK_SCHEDULE": "0 * * * * *"}, "0 * * * * *"),  # IConfiguration: any case
        ("%Timers:tick%", {"Timers__tick": "00:05:00"}, "00:05:00"),  # env "__" is the key separator ":"
        ("0 %M%%S% * *", {"M": "*/5 ", "S": "* *"}, "0 */5 * * * *"),  # adjacent names
    ],
)
def test_app_settings_resolve_as_the_host_configuration_does(
    schedule: str, settings: dict[str, str], resolved: str
) -> None:
    assert resolve_schedule("tick", schedule, settings) == resolved


@pytest.mark.parametrize(
    ("schedule", "settings", "reason"),
    [
        ("%TICK_SCHEDULE%", {}, "'%TICK_SCHEDULE%' does not resolve to a value."),
        ("%Timers__tick%", {"Timers__tick": "0 * * * * *"}, "'%Timers__tick%' does not resolve to a value."),
        ("%%", {}, "'%%' does not resolve to a value."),
        ("0 0 %HOUR * * *", {"HOUR": "3"}, "The '%' at position 4 does not have a closing '%'"),
    ],
)
def test_an_unresolvable_setting_refuses_start_up_with_the_host_message(
    tables: MemoryTables, schedule: str, settings: dict[str, str], reason: str
) -> None:
    # NameResolverExtensions.ResolveWholeString; the host's "function is in error" line.
    with pytest.raises(ValueError) as raised:
        scheduler(tables, FakeClock(utc(2025, 1, 1)), Invocations(), timer(schedule=schedule), settings=settings)
    assert str(raised.value).startswith(
        "The 'tick' function is in error: Microsoft.Azure.WebJobs.Host: Error indexing method 'Functions.tick'. "
        f"Microsoft.Azure.WebJobs.Host: {reason}"
    )
    assert "local.settings.json" in str(raised.value)


def test_a_setting_set_to_nothing_resolves_to_an_empty_schedule_which_is_refused(
    tables: MemoryTables,
) -> None:
    with pytest.raises(ValueError) as raised:
        scheduler(tables, FakeClock(utc(2025, 1, 1)), Invocations(), timer(schedule="%TICK%"), settings={"TICK": ""})
    assert (
        "Microsoft.Azure.WebJobs.Extensions: The schedule expression '' was not recognized as a valid cron "
        "expression or timespan string." in str(raised.value)
    )


def test_an_invalid_schedule_refuses_start_up_naming_the_function_and_field(tables: MemoryTables) -> None:
    with pytest.raises(ValueError) as raised:
        scheduler(tables, FakeClock(utc(2025, 1, 1)), Invocations(), timer(schedule="0 61 * * * *"))
    assert str(raised.value) == (
        "The 'tick' function is in error: Microsoft.Azure.WebJobs.Host: Error indexing method 'Functions.tick'. "
        "Microsoft.Azure.WebJobs.Extensions: The schedule expression '0 61 * * * *' was not recognized as a valid "
        "cron expression or timespan string. [Minute] field '61': 61 is higher than the maximum allowable value "
        "for the [Minute] field. Value must be between 0 and 59 (all inclusive)."
    )


def test_check_schedules_refuses_the_app_naming_every_timer_the_scheduler_would_refuse(
    tables: MemoryTables,
) -> None:
    check_schedules([timer(), timer("other", "0 0 0 * * *")], {})
    with pytest.raises(FunctionAppRefused) as refused:
        check_schedules([timer(), timer("bad", "%NOPE%"), timer("worse", "0 61 * * * *")], {})
    assert [error.function for error in refused.value.errors] == ["bad", "worse"]
    assert "The 'bad' function is in error: " in str(refused.value)
    assert "'%NOPE%' does not resolve" in str(refused.value)


def test_a_failing_function_is_logged_and_keeps_its_schedule(
    tables: MemoryTables, caplog: pytest.LogCaptureFixture
) -> None:
    clock, invoke = FakeClock(utc(2025, 1, 1, 0, 2)), Invocations(failure=RuntimeError("boom"))
    timers = scheduler(tables, clock, invoke)

    with caplog.at_level(logging.ERROR, logger="funchost.timers"):
        assert timers.run_due(utc(2025, 1, 1, 0, 5)) == ["tick"]
        assert timers.run_due(utc(2025, 1, 1, 0, 10)) == ["tick"]

    assert len(invoke.calls) == 2
    assert "timer function tick failed" in caplog.text
    assert "boom" in caplog.text
    assert stored_status(tables)["next"] == "2025-01-01T00:15:00+00:00"


def test_functions_receive_the_sdk_timer_request() -> None:
    app = func.FunctionApp()
    received: list[func.TimerRequest] = []

    @app.timer_trigger(schedule=EVERY_5_MINUTES, arg_name="timer", run_on_startup=True)
    def tick(timer: func.TimerRequest) -> None:
        received.append(timer)

    entries = FunctionIndex.of_app(app).of_type(TIMER)
    clock = FakeClock(utc(2025, 1, 1, 0, 2))
    timers = TimerScheduler(entries, lambda entry, info: entry.handler(info.to_request()), MemoryTables(), clock, {})
    timers.run_due(clock.now)

    assert len(received) == 1
    assert isinstance(received[0], func.TimerRequest)
    assert received[0].past_due is False
    assert received[0].schedule_status["Next"] == "2025-01-01T00:05:00+00:00"
    assert received[0].schedule_status["Last"] == "0001-01-01T00:00:00+00:00"
    assert received[0].schedule == {"AdjustForDST": True}


def test_no_timers_means_nothing_is_ever_due(tables: MemoryTables) -> None:
    timers = TimerScheduler([], Invocations(), tables, FakeClock(utc(2025, 1, 1)), {})
    assert timers.next_due() is None
    assert timers.run_due(utc(2025, 1, 1)) == []


def test_the_thread_fires_due_timers_and_stops_promptly(tables: MemoryTables) -> None:
    fired = threading.Event()

    def invoke(entry: FunctionEntry, info: TimerInfo) -> None:
        fired.set()

    timers = TimerScheduler(
        [timer(runOnStartup=True), timer("yearly", "0 0 0 1 1 *")],
        invoke,
        tables,
        lambda: datetime.now(UTC),
        {},
    )
    timers.start()
    timers.start()  # idempotent
    try:
        assert fired.wait(5)
    finally:
        started = time.monotonic()
        timers.stop()
    assert time.monotonic() - started < 1


def test_the_thread_wakes_for_an_occurrence_a_moment_away(tables: MemoryTables) -> None:
    fired = threading.Event()
    timers = TimerScheduler(
        [timer(schedule="* * * * * *")], lambda entry, info: fired.set(), tables, lambda: datetime.now(UTC), {}
    )
    timers.start()
    try:
        assert fired.wait(3)
    finally:
        timers.stop()
    assert timers.next_due() is not None and timers.next_due() > datetime.now(UTC) - timedelta(seconds=2)
