"""NCRONTAB parsing and next-occurrence search, by worked examples and properties."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.local.ncrontab import CronSchedule


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def occurrences(expression: str, start: datetime, count: int) -> list[datetime]:
    schedule, found, moment = CronSchedule.parse(expression), [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment)
    return found


# 2025-01-01 is a Wednesday.
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", utc(2025, 1, 1), utc(2025, 1, 1, 0, 5)),
        ("0 */5 * * * *", utc(2025, 1, 1, 0, 4, 59, 999_999), utc(2025, 1, 1, 0, 5)),
        ("0 */5 * * * *", utc(2025, 1, 1, 23, 55), utc(2025, 1, 2)),
        ("*/30 * * * * *", utc(2025, 1, 1, 0, 0, 30), utc(2025, 1, 1, 0, 1)),
        ("0 0 9-17 * * Mon-Fri", utc(2025, 1, 1, 17), utc(2025, 1, 2, 9)),
        ("0 0 9-17 * * 1-5", utc(2025, 1, 3, 17), utc(2025, 1, 6, 9)),  # Friday evening -> Monday
        ("0 30 9 * Jan,Jul Sat", utc(2025, 1, 1), utc(2025, 1, 4, 9, 30)),
        ("0 30 9 * jan,JUL sat", utc(2025, 1, 25, 10), utc(2025, 7, 5, 9, 30)),
        ("0 0 12 * * Sunday", utc(2025, 1, 1), utc(2025, 1, 5, 12)),
        ("0 0 12 * * 0", utc(2025, 1, 1), utc(2025, 1, 5, 12)),
        ("0 0 12 * * 7", utc(2025, 1, 1), utc(2025, 1, 5, 12)),
        ("0 0 12 * December *", utc(2025, 1, 1), utc(2025, 12, 1, 12)),
        ("0 0 0 29 2 *", utc(2025, 1, 1), utc(2028, 2, 29)),
        ("0 0 0 29 2 *", utc(2028, 2, 29), utc(2032, 2, 29)),
        ("0 0 0 29 Feb Mon", utc(2025, 1, 1), utc(2044, 2, 29)),
        ("0 0 0 31 * *", utc(2025, 1, 31), utc(2025, 3, 31)),
        ("59 59 23 31 12 *", utc(2025, 1, 1), utc(2025, 12, 31, 23, 59, 59)),
        ("59 59 23 31 12 *", utc(2025, 12, 31, 23, 59, 59), utc(2026, 12, 31, 23, 59, 59)),
        ("* * * * * *", utc(2025, 12, 31, 23, 59, 59), utc(2026, 1, 1)),
        ("0 15-45/15 * * * *", utc(2025, 1, 1, 0, 45), utc(2025, 1, 1, 1, 15)),
        ("0 5/20 * * * *", utc(2025, 1, 1, 0, 6), utc(2025, 1, 1, 0, 25)),
        ("0 0 */6 * * *", utc(2025, 1, 1, 6), utc(2025, 1, 1, 12)),
        ("0 0 0 1-7 * Mon", utc(2025, 1, 1), utc(2025, 1, 6)),  # NCrontab: day AND day-of-week
        ("0 0 0 13 * Fri", utc(2025, 1, 1), utc(2025, 6, 13)),
        ("0 0 8,12,16 * * *", utc(2025, 1, 1, 12), utc(2025, 1, 1, 16)),
        ("0 0 0 1 1 *", utc(2025, 1, 1), utc(2026, 1, 1)),
    ],
)
def test_next_after_worked_examples(expression: str, after: datetime, expected: datetime) -> None:
    assert CronSchedule.parse(expression).next_after(after) == expected


def test_every_five_minutes_is_a_regular_sequence() -> None:
    found = occurrences("0 */5 * * * *", utc(2025, 1, 1, 0, 2), 4)
    assert found == [utc(2025, 1, 1, 0, m) for m in (5, 10, 15, 20)]


def test_every_thirty_seconds_as_cron_and_as_timespan() -> None:
    assert occurrences("*/30 * * * * *", utc(2025, 1, 1), 3) == [
        utc(2025, 1, 1, 0, 0, 30),
        utc(2025, 1, 1, 0, 1),
        utc(2025, 1, 1, 0, 1, 30),
    ]
    interval = CronSchedule.parse("00:00:30")
    assert interval.interval == timedelta(seconds=30)
    # A TimeSpan counts from the moment asked about, not from the clock's half-minutes.
    assert interval.next_after(utc(2025, 1, 1, 0, 0, 7)) == utc(2025, 1, 1, 0, 0, 37)


@pytest.mark.parametrize(
    ("text", "interval"),
    [("00:05:00", timedelta(minutes=5)), ("01:30", timedelta(hours=1, minutes=30)), ("1.00:00:00", timedelta(days=1))],
)
def test_timespan_forms(text: str, interval: timedelta) -> None:
    assert CronSchedule.parse(text).interval == interval


def test_weekdays_nine_to_five_fire_nine_times_a_weekday_and_never_at_weekends() -> None:
    week = occurrences("0 0 9-17 * * Mon-Fri", utc(2025, 1, 5), 45)  # from Sunday
    assert {moment.weekday() for moment in week} == {0, 1, 2, 3, 4}
    assert {moment.hour for moment in week} == set(range(9, 18))
    assert week[-1] == utc(2025, 1, 10, 17)


def test_sparse_schedules_are_found_quickly() -> None:
    started = time.perf_counter()
    assert CronSchedule.parse("0 0 0 29 2 *").next_after(utc(2029, 3, 1)) == utc(2032, 2, 29)
    assert CronSchedule.parse("0 0 0 29 2 Sat").next_after(utc(2025, 1, 1)) == utc(2048, 2, 29)
    assert time.perf_counter() - started < 0.1


def test_other_time_zones_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    result = CronSchedule.parse("0 0 * * * *").next_after(datetime(2025, 1, 1, 10, 30, tzinfo=plus_two))
    assert result == utc(2025, 1, 1, 9)
    assert result.tzinfo == UTC


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CronSchedule.parse("0 * * * * *").next_after(datetime(2025, 1, 1))


def test_more_than_once_a_minute() -> None:
    assert CronSchedule.parse("*/30 * * * * *").fires_more_than_once_a_minute
    assert CronSchedule.parse("00:00:30").fires_more_than_once_a_minute
    assert not CronSchedule.parse("0 * * * * *").fires_more_than_once_a_minute
    assert not CronSchedule.parse("00:01:00").fires_more_than_once_a_minute


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 61 * * * *", 'minute: 61 is outside 0-59 in "0 61 * * * *"'),
        ("60 * * * * *", 'second: 60 is outside 0-59 in "60 * * * * *"'),
        ("0 0 24 * * *", 'hour: 24 is outside 0-23 in "0 0 24 * * *"'),
        ("0 0 0 0 * *", 'day: 0 is outside 1-31 in "0 0 0 0 * *"'),
        ("0 0 0 * 13 *", 'month: 13 is outside 1-12 in "0 0 0 * 13 *"'),
        ("0 0 0 * * 8", 'day-of-week: 8 is outside 0-7 in "0 0 0 * * 8"'),
        ("0 0 0 * Foo *", 'month: "Foo" is not a month name (Jan..Dec) or number in "0 0 0 * Foo *"'),
        ("0 0 0 * * Funday", 'day-of-week: "Funday" is not a day-of-week name (Sun..Sat) or number'),
        ("0 0 x * * *", 'hour: "x" is not a number in "0 0 x * * *"'),
        ("0 0 17-9 * * *", 'hour: range 17-9 runs backwards; write the smaller value first in "0 0 17-9 * * *"'),
        ("0 */0 * * * *", 'minute: step 0 must be at least 1 in "0 */0 * * * *"'),
        ("0 */x * * * *", 'minute: step "x" is not a number'),
        ("0 0 1,,2 * * *", "hour: empty item in a comma list"),
        ("0 0 -3 * * *", 'hour: range "-3" needs a start and an end'),
        ("0 0 0 30 2 *", 'day: 30 never occurs in Feb in "0 0 0 30 2 *"'),
        ("0 0 0 31 Apr,Jun *", "day: 31 never occurs in Apr,Jun"),
        ("*/5 * * * *", 'got 5 in "*/5 * * * *"; Azure Functions schedules start with seconds, e.g. "0 */5 * * * *"'),
        ("0 0 * * * * *", "schedule: expected 6 fields"),
        ("   ", "schedule: empty"),
        ("25:00:00", 'TimeSpan: hours 25 is outside 0-23 in "25:00:00"'),
        ("00:00:00", 'TimeSpan: "00:00:00" is zero'),
        ("1:2:3:4", 'TimeSpan: "1:2:3:4" is not "[d.]hh:mm[:ss]"'),
    ],
)
def test_invalid_expressions_name_the_field_and_why(expression: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        CronSchedule.parse(expression)
    assert message in str(raised.value)


def _field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    if names:
        value = value | st.sampled_from(names)
    ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda p: f"{min(p)}-{max(p)}")
    stepped = st.tuples(st.sampled_from(["*", f"{low}-{high}"]), st.integers(1, high - low + 1)).map(
        lambda p: f"{p[0]}/{p[1]}"
    )
    item = st.one_of(st.just("*"), value, ranged, stepped)
    return st.lists(item, min_size=1, max_size=3).map(",".join)


_EXPRESSIONS = st.tuples(
    _field(0, 59),
    _field(0, 59),
    _field(0, 23),
    _field(1, 28),  # days every month has, so every generated schedule occurs
    _field(1, 12, ("Jan", "mar", "DEC")),
    _field(0, 7, ("Mon", "fri", "SUN")),
).map(" ".join)
_MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(_EXPRESSIONS, _MOMENTS)
def test_next_after_is_strictly_later_matches_and_skips_nothing(expression: str, moment: datetime) -> None:
    schedule = CronSchedule.parse(expression)
    first = schedule.next_after(moment)
    second = schedule.next_after(first)
    assert moment < first < second
    assert schedule.matches(first)
    assert schedule.matches(second)
    assert first.tzinfo == UTC
    # No day between the moment and the first occurrence is an allowed day (NCrontab: day AND day-of-week) ...
    day = moment.date() + timedelta(days=1)
    while day < first.date():
        allowed = day.month in schedule.months and day.day in schedule.days
        assert not (allowed and (day.weekday() + 1) % 7 in schedule.days_of_week), day
        day += timedelta(days=1)
    # ... and no second just after the moment matches either.
    probe = moment.replace(microsecond=0) + timedelta(seconds=1)
    for _ in range(200):
        if probe >= first:
            break
        assert not schedule.matches(probe)
        probe += timedelta(seconds=1)
