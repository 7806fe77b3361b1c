"""Timer schedules read as the timer extension reads them: a table of next fire times, each row citing its rule.

Sources (read, not copied):
  NC   atifaziz/NCrontab, tag v3.3.3 (the version WebJobs.Extensions.csproj pins), NCrontab/<file>:<line>
  EXT  Azure/azure-webjobs-sdk-extensions 2e7550f, src/WebJobs.Extensions/Extensions/Timers/<file>:<line>
  NET  dotnet/runtime, src/libraries/System.Private.CoreLib/src/System/Globalization/TimeSpanParse.cs
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funchost.ncrontab import NEVER, CronSchedule

START = datetime(2025, 1, 1, tzinfo=UTC)  # a Wednesday, at midnight


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


NEXT_FIRE_TIMES = [
    # --- fields and their count
    ("0 */5 * * * *", utc(2025, 1, 1, 0, 5), "step on *: NC CrontabFieldImpl.cs:244"),
    ("*/5 * * * *", utc(2025, 1, 1, 0, 5), "5 fields = no seconds: EXT Scheduling/CronSchedule.cs:245-248"),
    ("* * * * *", utc(2025, 1, 1, 0, 1), "5 fields fire at second 0: NC CrontabSchedule.cs:48,241"),
    ("* * * * * *", utc(2025, 1, 1, 0, 0, 1), "strictly after the base second: NC CrontabSchedule.cs:235"),
    ("  0  */5 * *  * *  ", utc(2025, 1, 1, 0, 5), "split on spaces, empties dropped: NC CrontabSchedule.cs:112"),
    ("05 05 05 05 05 *", utc(2025, 5, 5, 5, 5, 5), "numbers are int.Parse: NC CrontabFieldImpl.cs:285-286"),
    ("0,30 * * * * *", utc(2025, 1, 1, 0, 0, 30), "comma list: NC CrontabFieldImpl.cs:215-223"),
    ("0 0 6,18 * * *", utc(2025, 1, 1, 6), "comma list: NC CrontabFieldImpl.cs:215-223"),
    ("59 59 23 31 12 *", utc(2025, 12, 31, 23, 59, 59), "largest values: NC CrontabFieldImpl.cs:39-44"),
    # --- names
    ("0 0 0 * * Sun", utc(2025, 1, 5), "day names: NC CrontabFieldImpl.cs:44"),
    ("0 0 0 * * 0", utc(2025, 1, 5), "0 is Sunday: NC CrontabFieldImpl.cs:44"),
    ("0 0 12 * * Tues", utc(2025, 1, 7, 12), "name prefix: NC CrontabFieldImpl.cs:297"),
    ("0 0 12 * * t", utc(2025, 1, 7, 12), "first name with the prefix (Tuesday): NC CrontabFieldImpl.cs:295-299"),
    ("0 0 12 * * WEDNES", utc(2025, 1, 1, 12), "case-insensitive prefix: NC CrontabFieldImpl.cs:297"),
    ("0 0 0 1 Sept *", utc(2025, 9, 1), "month prefix: NC CrontabFieldImpl.cs:43,297"),
    ("0 0 0 1 ju *", utc(2025, 6, 1), "Ju is June, first in calendar order: NC CrontabFieldImpl.cs:295-299"),
    ("0 0 9 * Jan,Jul Sat", utc(2025, 1, 4, 9), "names in a list: NC CrontabFieldImpl.cs:215-223,297"),
    # --- ranges and steps
    ("0 0 17-9 * * *", utc(2025, 1, 1, 9), "reversed range is swapped: NC CrontabField.cs:207-212"),
    ("0 0 0 * * Fri-Mon", utc(2025, 1, 2), "swapped to Mon-Fri, not wrapped: NC CrontabField.cs:207-212"),
    ("0 40-10/20 * * * *", utc(2025, 1, 1, 0, 10), "swapped then stepped: 10,30: NC CrontabField.cs:207-236"),
    ("0 1-10/4 * * * *", utc(2025, 1, 1, 0, 1), "range step 1,5,9: NC CrontabFieldImpl.cs:255-260"),
    ("0 5/15 * * * *", utc(2025, 1, 1, 0, 5), "a/n runs to the maximum: NC CrontabFieldImpl.cs:273"),
    ("0 59/15 * * * *", utc(2025, 1, 1, 0, 59), "a/n at the maximum is a: NC CrontabField.cs:168-198"),
    ("0 */0 * * * *", utc(2025, 1, 1, 0, 1), "*/0 is every value: NC CrontabField.cs:176-181"),
    ("0 5/0 * * * *", utc(2025, 1, 1, 0, 5), "step 0 is step 1: NC CrontabField.cs:225-226"),
    ("0 */-15 * * * *", utc(2025, 1, 1, 0, 1), "negative step is step 1: NC CrontabFieldImpl.cs:236"),
    ("0 */+15 * * * *", utc(2025, 1, 1, 0, 15), "int.Parse takes a sign: NC CrontabFieldImpl.cs:236"),
    ("0 0 0 1 */3 *", utc(2025, 4, 1), "months 1,4,7,10: NC CrontabField.cs:184-186"),
    ("0 0 0 */10 * *", utc(2025, 1, 11), "days 1,11,21,31: NC CrontabField.cs:184-186"),
    ("0 0 0 * * 0-6/2", utc(2025, 1, 2), "Sun,Tue,Thu,Sat: NC CrontabFieldImpl.cs:255-260"),
    ("0 0 0 * * 1,3,5", utc(2025, 1, 3), "base excluded, Fri next: NC CrontabSchedule.cs:235,376"),
    # --- days of month and of week
    ("0 0 0 1-7 * Mon", utc(2025, 1, 6), "day AND day-of-week: NC CrontabSchedule.cs:376-379"),
    ("0 0 0 13 * Fri", utc(2025, 6, 13), "day AND day-of-week: NC CrontabSchedule.cs:376-379"),
    ("0 0 0 31 * *", utc(2025, 1, 31), "day 31: NC CrontabSchedule.cs:356-365"),
    ("0 0 0 29 2 *", utc(2028, 2, 29), "Feb 29 skips to a leap year: NC CrontabSchedule.cs:356-365"),
    ("0 0 0 29 2 Mon", utc(2044, 2, 29), "Feb 29 on a Monday: NC CrontabSchedule.cs:356-379"),
    ("0 0 0 31 4 *", NEVER, "Apr 31: none until 9999, MaxValue: NC CrontabSchedule.cs:213,336-337"),
    ("0 0 0 30 Feb *", NEVER, "Feb 30: none, MaxValue: NC CrontabSchedule.cs:213,336-337"),
    # --- TimeSpan (tried when NCRONTAB fails: EXT Scheduling/TimerSchedule.cs:68-79), now + interval
    ("00:00:30", utc(2025, 1, 1, 0, 0, 30), "h:m:s: NET ProcessTerminal_HM_S_D; EXT ConstantSchedule.cs:39-49"),
    ("5", utc(2025, 1, 6), "one number is days: NET ProcessTerminal_D"),
    ("02:03", utc(2025, 1, 1, 2, 3), "two numbers are h:m: NET ProcessTerminal_HM"),
    ("00:00:30.5", datetime(2025, 1, 1, 0, 0, 30, 500_000, tzinfo=UTC), "h:m:s.f: NET ProcessTerminal_HMS_F_D"),
    ("1.02:03:04", utc(2025, 1, 2, 2, 3, 4), "d.h:m:s: NET ProcessTerminal_HMS_F_D"),
    ("1:02:03:04", utc(2025, 1, 2, 2, 3, 4), "d:h:m:s, localized form: NET ProcessTerminal_HMS_F_D"),
    ("1.02:03", utc(2025, 1, 2, 2, 3), "d.h:m: NET ProcessTerminal_HM_S_D"),
    ("30:00:00", utc(2025, 1, 31), "hours over 23: d:h:m, 30 days: NET ProcessTerminal_HM_S_D"),
    ("00:01:.5", datetime(2025, 1, 1, 0, 1, 0, 500_000, tzinfo=UTC), "h:m:.f: NET PartialAppCompatMatch"),
    (" 00:05:00\t", utc(2025, 1, 1, 0, 5), "white space trimmed: NET TryParseTimeSpan"),
    ("-00:00:30", utc(2024, 12, 31, 23, 59, 30), "negative, in the past: EXT ConstantSchedule.cs:48"),
    ("00:00:00", START, "zero: now again: EXT ConstantSchedule.cs:48; Listener/TimerListener.cs:374-385"),
]


@pytest.mark.parametrize(("expression", "expected", "rule"), NEXT_FIRE_TIMES, ids=[r[0] for r in NEXT_FIRE_TIMES])
def test_next_fire_time_from_a_fixed_start(expression: str, expected: datetime, rule: str) -> None:
    assert CronSchedule.parse(expression).next_after(START) == expected, rule


def test_the_table_covers_at_least_35_expressions() -> None:
    assert len({row[0] for row in NEXT_FIRE_TIMES}) >= 35


REFUSED = [
    (
        "0 0 0 * * 7",
        "[DayOfWeek] field '7': 7 is higher than the maximum allowable value for the [DayOfWeek] field. "
        "Value must be between 0 and 6 (all inclusive).",
    ),
    ("0 0 0 * * Sun-7", "7 is higher than the maximum allowable value for the [DayOfWeek] field."),
    ("0 61 * * * *", "[Minute] field '61': 61 is higher than the maximum allowable value for the [Minute] field."),
    ("0 70-80 * * * *", "80 is higher than the maximum allowable value for the [Minute] field."),
    ("0 0 0 0 * *", "[Day] field '0': 0 is lower than the minimum allowable value for the [Day] field."),
    ("0 0 0 * 13 *", "13 is higher than the maximum allowable value for the [Month] field."),
    ("0 0 0 * * Mondays", "'Mondays' is not a known value name. Use one of the following: Sunday, Monday, Tuesday"),
    ("0 0 0 * Foo *", "'Foo' is not a known value name. Use one of the following: January, February, March"),
    ("0 0 x * * *", "'x' is not a valid [Hour] crontab field value. It must be a numeric value between 0 and 23"),
    ("0 0 0 ? * *", "[Day] field '?': '?' is not a valid [Day] crontab field value."),
    ("0 0 0 L * *", "'L' is not a valid [Day] crontab field value."),
    ("0 0 0 15W * *", "[Day] field '15W': The input string '15W' was not in a correct format."),
    ("0 0 0 * * 1#2", "The input string '1#2' was not in a correct format."),
    ("0 0 -3 * * *", "'-3' is not a valid [Hour] crontab field value."),
    ("0 0 /5 * * *", "'/5' is not a valid [Hour] crontab field value."),
    ("0 0 1,,2 * * *", "[Hour] field '1,,2': A crontab field value cannot be empty."),
    ("0 */x * * * *", "The input string 'x' was not in a correct format."),
    ("0 */99999999999 * * * *", "Value was either too large or too small for an Int32."),
    ("0\t*/5 * * * *", "[Minute] field '0\t*/5': The input string '0\t*' was not in a correct format."),
    ("0 0 * * * * *", "It must contain 6 components of a schedule in the sequence of seconds, minutes, hours"),
    ("0 * * *", "'0 * * *' is an invalid crontab expression."),
    ("@daily", "not a TimeSpan"),
    ("", "'' is an invalid crontab expression."),
    ("25:00", "not a TimeSpan"),
    ("00:60:00", "not a TimeSpan"),
    ("1.2.3", "not a TimeSpan"),
    ("00:00:30.12345678", "not a TimeSpan"),
]


@pytest.mark.parametrize(("expression", "reason"), REFUSED)
def test_refused_with_the_extension_message_and_ncrontab_reason(expression: str, reason: str) -> None:
    # EXT Scheduling/TimerSchedule.cs:90; NC CrontabField.cs:255-265, CrontabFieldImpl.cs:198,281-302,
    # CrontabSchedule.cs:116-126
    with pytest.raises(ValueError) as raised:
        CronSchedule.parse(expression)
    message = str(raised.value)
    assert message.startswith(
        f"The schedule expression '{expression}' was not recognized as a valid cron expression or timespan string."
    )
    assert reason in message


@pytest.mark.parametrize(
    ("expression", "disabled"),
    [
        ("*/30 * * * * *", True),
        ("0,30 * * * * *", True),
        ("* 0-59 0-23 1-31 1-12 0-6", True),  # full ranges print as "*": NC CrontabFieldImpl.cs:105-110
        ("0 * * * * *", False),
        ("* 5 * * * *", False),  # only "X * * * * *" is checked
        ("* * * * *", False),  # five fields: at most once a minute
        ("00:00:30", True),
        ("00:00:59.9", True),
        ("00:01:00", False),
        ("00:00:00", True),
        ("-1", True),
    ],
)
def test_monitor_off_as_the_extension_decides(expression: str, disabled: bool) -> None:
    # EXT Scheduling/TimerSchedule.cs:71-86 (TotalMinutes < 1) and 106-135 (ShouldDisableScheduleMonitor)
    assert CronSchedule.parse(expression).disables_monitor is disabled


def test_a_schedule_is_a_regular_sequence() -> None:
    schedule, moment, found = CronSchedule.parse("0 0 9-17 * * Mon-Fri"), utc(2025, 1, 5), []
    for _ in range(45):  # from Sunday: nine a weekday
        moment = schedule.next_after(moment)
        found.append(moment)
    assert {m.weekday() for m in found} == {0, 1, 2, 3, 4}
    assert {m.hour for m in found} == set(range(9, 18))
    assert found[-1] == utc(2025, 1, 10, 17)


def test_sparse_schedules_are_found_quickly() -> None:
    started = time.perf_counter()
    assert CronSchedule.parse("0 0 0 29 2 Sat").next_after(START) == utc(2048, 2, 29)
    assert CronSchedule.parse("0 0 0 30 2 *").next_after(START) == NEVER
    assert time.perf_counter() - started < 0.5


def test_other_time_zones_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    result = CronSchedule.parse("0 0 * * * *").next_after(datetime(2025, 1, 1, 10, 30, tzinfo=plus_two))
    assert result == utc(2025, 1, 1, 9)
    assert result.tzinfo == UTC


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CronSchedule.parse("0 * * * * *").next_after(datetime(2025, 1, 1))


def _field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    if names:
        value = value | st.sampled_from(names)
    ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda p: f"{p[0]}-{p[1]}")
    stepped = st.tuples(st.sampled_from(["*", f"{low}-{high}", str(low)]), st.integers(0, high - low + 1)).map(
        lambda p: f"{p[0]}/{p[1]}"
    )
    item = st.one_of(st.just("*"), value, ranged, stepped)
    return st.lists(item, min_size=1, max_size=3).map(",".join)


_EXPRESSIONS = st.tuples(
    _field(0, 59),
    _field(0, 59),
    _field(0, 23),
    _field(1, 28),  # days every month has, so every generated schedule occurs
    _field(1, 12, ("Jan", "mar", "DEC", "Sept")),
    _field(0, 6, ("Mon", "fri", "SUN", "Tues")),
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
