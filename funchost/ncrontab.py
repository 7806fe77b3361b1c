"""Timer schedules, read as the Azure Functions timer extension reads them. Pure: no I/O, no clock.

The extension (azure-webjobs-sdk-extensions ``Timers/Scheduling/TimerSchedule.cs``, ``Create``) tries the
expression as NCRONTAB with the NCrontab.Signed 3.3.3 library, then as a .NET ``TimeSpan``
(``funchost.timespan``), and otherwise refuses it: "The schedule expression '...' was not recognized
as a valid cron expression or timespan string." These are NCrontab 3.3.3's rules (tag v3.3.3 of
atifaziz/NCrontab; ``CrontabSchedule.cs``, ``CrontabFieldImpl.cs``, ``CrontabField.cs``):

* fields are split on spaces only (``StringSeparatorStock.Space``); 5 fields are read without seconds (second 0),
  any other count as 6 with seconds (``CronSchedule.cs`` ``HasSeconds``), so 4 or 7 fields are refused;
* each field is ``*``, a value, a range ``a-b``, any of those with a step ``/n``, or a comma list of them.
  A value with a step ``a/n`` runs to the field's maximum. A reversed range ``b-a`` is the range ``a-b``
  (swapped, never wrapped). A step below 1 (``*/0``, ``*/-2``) is a step of 1. Numbers are .NET ``int.Parse``
  numbers: ``05`` is 5, ``*/+5`` is ``*/5``;
* ranges: second, minute 0-59; hour 0-23; day 1-31; month 1-12; day-of-week 0-6 (0 is Sunday; 7 is refused);
* month and day-of-week names: any prefix of the English name, case-insensitively (``Sept``, ``Tues``, ``T`` is
  Tuesday, ``Ju`` June: the first name in calendar order that starts with it);
* no ``?``, ``L``, ``W``, ``#``, ``@daily``: those are errors;
* an occurrence needs day-of-month *and* day-of-week to match (``GetNextOccurrence`` finds the month and day,
  then skips days whose weekday is not allowed); Vixie cron would fire when either matches. So
  ``0 0 8 1-7 * Mon`` is 08:00 on the first Monday of the month;
* a schedule whose day never occurs (``0 0 0 30 2 *``) is accepted and never fires: NCrontab answers
  ``DateTime.MaxValue`` (``NEVER`` here).

Schedules are evaluated in UTC (``WEBSITE_TIME_ZONE`` unset, as on Linux plans by default). This is the Linux
host, where the app runs (Flex Consumption is Linux only). On Windows Consumption the host itself first demands
six fields and refuses TimeSpans ("'...' is not a valid CRON expression.", azure-functions-host
``src/WebJobs.Script/Binding/CoreExtensionsScriptBindingProvider.cs``, ``IsWindowsConsumption``).

Worked examples, ``next_after`` of 2025-01-01T00:00:00Z (a Wednesday):

=========================  ==============================  ============================
expression                 meaning                         next occurrence (UTC)
=========================  ==============================  ============================
``0 */5 * * * *``          every 5 minutes                 2025-01-01T00:05:00
``*/5 * * * *``            every 5 minutes (5 fields)      2025-01-01T00:05:00
``*/30 * * * * *``         every 30 seconds                2025-01-01T00:00:30
``00:00:30``               every 30 s from now (TimeSpan)  2025-01-01T00:00:30
``5``                      every 5 days (TimeSpan)         2025-01-06T00:00:00
``0 0 9-17 * * Mon-Fri``   hourly 09-17 on weekdays        2025-01-01T09:00:00
``0 0 17-9 * * *``         reversed: hourly 09-17          2025-01-01T09:00:00
``0 30 9 * Jan,Jul Sat``   09:30 on Saturdays, Jan & Jul   2025-01-04T09:30:00
``0 0 0 * Sept Tues``      Tuesdays in September           2025-09-02T00:00:00
``0 0 0 29 2 *``           midnight on Feb 29              2028-02-29T00:00:00
``0 0 8 1-7 * Mon``        08:00 on the first Monday       2025-01-06T08:00:00
``0 15-45/15 * * * *``     minutes 15, 30, 45              2025-01-01T00:15:00
``0 0 0 30 2 *``           never (Feb 30)                  ``NEVER`` (9999-12-31)
=========================  ==============================  ============================
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from funchost.timespan import parse_timespan

# NCrontab answers DateTime.MaxValue for a schedule with no further occurrence.
NEVER = datetime.max.replace(tzinfo=UTC)
_UNRECOGNIZED = "The schedule expression '{}' was not recognized as a valid cron expression or timespan string."
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# .NET int.Parse (NumberStyles.Integer): white space U+0009..U+000D and U+0020 around, an optional sign.
_DOTNET_INT = re.compile(r"[\t\n\v\f\r ]*([+-]?[0-9]+)[\t\n\v\f\r ]*")
_INT32 = range(-(2**31), 2**31)
# Every weekday/date combination recurs within the 400-year Gregorian cycle; beyond it nothing will.
_SEARCH_YEARS = 400


@dataclass(frozen=True)
class _Kind:
    """One NCrontab field kind (``CrontabFieldImpl``): its name in messages, range and value names."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


_KINDS = (
    _Kind("Second", 0, 59),
    _Kind("Minute", 0, 59),
    _Kind("Hour", 0, 23),
    _Kind("Day", 1, 31),
    _Kind("Month", 1, 12, _MONTHS),
    _Kind("DayOfWeek", 0, 6, _DAYS),
)


class _Invalid(Exception):
    """NCrontab's reason one field is invalid; ``parse`` adds the field and the extension's sentence."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed timer schedule: the allowed values of each NCRONTAB field, or a constant ``interval``."""

    expression: str
    seconds: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    days: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    days_of_week: tuple[int, ...] = ()  # 0 = Sunday
    interval: timedelta | None = None  # a TimeSpan schedule (may be zero or negative, as on Azure)

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Read ``expression`` as the timer extension does; ValueError with its message and NCrontab's reason."""
        tokens = [token for token in expression.split(" ") if token]
        kinds = _KINDS[1:] if len(tokens) == 5 else _KINDS
        if len(tokens) != len(kinds):
            interval = parse_timespan(expression)
            if interval is not None:
                return cls(expression=expression, interval=interval)
            raise ValueError(
                f"{_UNRECOGNIZED.format(expression)} NCrontab: '{expression}' is an invalid crontab expression. It "
                "must contain 6 components of a schedule in the sequence of seconds, minutes, hours, days, months, "
                "and days of week (or 5, without seconds); .NET: not a TimeSpan ([-]d or [-][d.]hh:mm[:ss[.fffffff]])."
            )
        fields: list[tuple[int, ...]] = [(0,)] if len(tokens) == 5 else []
        for kind, token in zip(kinds, tokens, strict=True):
            try:
                fields.append(_parse_field(token, kind))
            except _Invalid as reason:
                unrecognized = _UNRECOGNIZED.format(expression)
                raise ValueError(f"{unrecognized} [{kind.name}] field '{token}': {reason}") from None
        seconds, minutes, hours, days, months, days_of_week = fields
        return cls(expression, seconds, minutes, hours, days, months, days_of_week)

    @property
    def disables_monitor(self) -> bool:
        """Whether the extension turns ``useMonitor`` off for this schedule (``ShouldDisableScheduleMonitor``).

        A TimeSpan under a minute (zero and negative included); a cron schedule whose fields other than
        seconds are all ``*`` and that has more than one second a minute. ``* 5 * * * *`` fires 60 times in
        minute 5 yet stays monitored, as on Azure.
        """
        if self.interval is not None:
            return self.interval < timedelta(minutes=1)
        rest = (self.minutes, self.hours, self.days, self.months, self.days_of_week)
        full = all(len(values) == kind.high - kind.low + 1 for values, kind in zip(rest, _KINDS[1:], strict=True))
        return full and len(self.seconds) > 1

    def matches(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware; evaluated in UTC) is an occurrence. Cron schedules only."""
        if self.interval is not None:
            raise ValueError(f'schedule "{self.expression}" is an interval; it has no fixed occurrences')
        utc = _as_utc(moment)
        return (
            utc.microsecond == 0
            and utc.second in self.seconds
            and utc.minute in self.minutes
            and utc.hour in self.hours
            and utc.month in self.months
            and self._day_matches(utc)
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (aware UTC in and out); ``NEVER`` if none.

        A TimeSpan schedule answers ``moment + interval`` (``ConstantSchedule.GetNextOccurrence``), which is not
        after ``moment`` for a zero or negative interval. A cron schedule: NCrontab's answer, the earliest whole
        second after ``moment`` whose fields all match. Walks field by field from the largest (month) down,
        jumping straight to the next allowed value of a field that does not match, so a sparse schedule
        ("0 0 0 29 2 *") costs a few steps per year.
        """
        utc = _as_utc(moment)
        if self.interval is not None:
            try:
                return utc + self.interval
            except OverflowError:
                return NEVER
        try:
            return self._next_occurrence(utc.replace(tzinfo=None, microsecond=0) + timedelta(seconds=1))
        except (OverflowError, ValueError):  # walked past year 9999
            return NEVER

    def _next_occurrence(self, at: datetime) -> datetime:
        """The first occurrence at or after ``at`` (naive UTC, whole seconds); ``NEVER`` if none."""
        last_year = at.year + _SEARCH_YEARS
        while at.year <= last_year:
            if at.month not in self.months:
                month = _next_in(self.months, at.month)
                at = datetime(at.year + 1, self.months[0], 1) if month is None else datetime(at.year, month, 1)
            elif at.day not in self.days:
                day = _next_in(self.days, at.day)
                if day is not None and day <= _days_in_month(at):
                    at = at.replace(day=day, hour=0, minute=0, second=0)
                else:
                    at = _next_month(at)
            elif not self._day_matches(at):
                at = _next_day(at)
            elif at.hour not in self.hours:
                hour = _next_in(self.hours, at.hour)
                at = _next_day(at) if hour is None else at.replace(hour=hour, minute=0, second=0)
            elif at.minute not in self.minutes:
                minute = _next_in(self.minutes, at.minute)
                at = _next_hour(at) if minute is None else at.replace(minute=minute, second=0)
            elif at.second not in self.seconds:
                second = _next_in(self.seconds, at.second)
                at = _next_minute(at) if second is None else at.replace(second=second)
            else:
                return at.replace(tzinfo=UTC)
        return NEVER

    def _day_matches(self, moment: datetime) -> bool:
        # NCrontab semantics: day-of-month AND day-of-week (see the module docstring).
        return moment.day in self.days and (moment.weekday() + 1) % 7 in self.days_of_week

    def __str__(self) -> str:
        return self.expression


def _parse_field(text: str, kind: _Kind) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, kind))
    return tuple(sorted(values))


def _parse_item(item: str, kind: _Kind) -> range:
    """One list item, as ``CrontabFieldImpl.InternalParse`` and ``CrontabField.Accumulate`` read it."""
    if not item:
        raise _Invalid("A crontab field value cannot be empty.")
    step: int | None = None
    slash = item.find("/")
    if slash > 0:  # a leading "/" is not a step: the value "/5" is then refused
        step = _int(item[slash + 1 :])
        item = item[:slash]
    if item == "*":
        return _accumulate(kind.low, kind.high, 1 if step is None else step, kind)
    dash = item.find("-")
    if dash > 0:
        return _accumulate(_value(item[:dash], kind), _value(item[dash + 1 :], kind), step or 1, kind)
    value = _value(item, kind)
    return _accumulate(value, value if step is None else kind.high, step or 1, kind)


def _accumulate(start: int, end: int, step: int, kind: _Kind) -> range:
    """The values ``start``..``end`` by ``step``: a reversed range is swapped, a step below 1 is 1."""
    start, end = min(start, end), max(start, end)
    if start < kind.low:
        raise _Invalid(f"{start} is lower than the minimum allowable value for the [{kind.name}] field. "
                       f"Value must be between {kind.low} and {kind.high} (all inclusive).")  # fmt: skip
    if end > kind.high:
        raise _Invalid(f"{end} is higher than the maximum allowable value for the [{kind.name}] field. "
                       f"Value must be between {kind.low} and {kind.high} (all inclusive).")  # fmt: skip
    return range(start, end + 1, max(step, 1))


def _value(token: str, kind: _Kind) -> int:
    """A number (when it starts with a digit) or a name prefix (``CrontabFieldImpl.ParseValue``)."""
    if not token:
        raise _Invalid("A crontab field value cannot be empty.")
    if token[0].isascii() and token[0].isdigit():
        return _int(token)
    if not kind.names:
        raise _Invalid(f"'{token}' is not a valid [{kind.name}] crontab field value. "
                       f"It must be a numeric value between {kind.low} and {kind.high} (all inclusive).")  # fmt: skip
    for index, name in enumerate(kind.names):
        if name.casefold().startswith(token.casefold()):
            return kind.low + index
    raise _Invalid(f"'{token}' is not a known value name. Use one of the following: {', '.join(kind.names)}.")


def _int(text: str) -> int:
    """``text`` as .NET ``int.Parse`` reads it, with .NET's messages."""
    match = _DOTNET_INT.fullmatch(text)
    if not match:
        raise _Invalid(f"The input string '{text}' was not in a correct format.")
    number = int(match.group(1))
    if number not in _INT32:
        raise _Invalid("Value was either too large or too small for an Int32.")
    return number


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"moment {moment.isoformat()} is naive; pass a timezone-aware datetime (UTC)")
    return moment.astimezone(UTC)


def _next_in(allowed: tuple[int, ...], current: int) -> int | None:
    """The smallest allowed value greater than ``current``, or None."""
    index = bisect.bisect_right(allowed, current)
    return allowed[index] if index < len(allowed) else None


def _days_in_month(moment: datetime) -> int:
    return (_next_month(moment) - timedelta(days=1)).day


def _next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1)


def _next_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0) + timedelta(days=1)


def _next_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0) + timedelta(hours=1)


def _next_minute(moment: datetime) -> datetime:
    return moment.replace(second=0) + timedelta(minutes=1)
