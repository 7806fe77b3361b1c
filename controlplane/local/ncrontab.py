"""NCRONTAB schedules, read as the Azure Functions timer trigger reads them. Pure: no I/O, no clock.

Two forms are accepted:

* six fields ``{second} {minute} {hour} {day} {month} {day-of-week}``, each ``*``, a value, a range ``a-b``,
  a step ``*/n``, ``a-b/n`` or ``a/n`` (= ``a-max/n``), or a comma list of those. Months may be named
  (``Jan``..``Dec`` or in full), days of week too (``Sun``..``Sat``; ``0`` and ``7`` are both Sunday),
  case-insensitively;
* a TimeSpan ``[d.]hh:mm[:ss]`` (``00:00:30``): a fixed interval, each occurrence that long after the
  moment asked about (Azure allows this form on App Service plans only).

Day-of-month with day-of-week: the Functions host evaluates schedules with the NCrontab library, which
requires *both* to match when both are restricted. Vixie cron (``man 5 crontab``) instead fires when
*either* matches. We follow NCrontab, so a schedule fires locally exactly when it fires in Azure:
``0 0 8 1-7 * Mon`` is "08:00 on the first Monday of the month" (in Vixie cron it would also be every Monday).

Schedules are evaluated in UTC (``WEBSITE_TIME_ZONE`` unset, as on Linux plans by default).

Worked examples, ``next_after`` of 2025-01-01T00:00:00Z (a Wednesday):

=========================  ==============================  ============================
expression                 meaning                         next occurrence (UTC)
=========================  ==============================  ============================
``0 */5 * * * *``          every 5 minutes                 2025-01-01T00:05:00
``*/30 * * * * *``         every 30 seconds                2025-01-01T00:00:30
``00:00:30``               every 30 s from now (TimeSpan)  2025-01-01T00:00:30
``0 0 9-17 * * Mon-Fri``   hourly 09-17 on weekdays        2025-01-01T09:00:00
``0 30 9 * Jan,Jul Sat``   09:30 on Saturdays, Jan & Jul   2025-01-04T09:30:00
``0 0 0 29 2 *``           midnight on Feb 29              2028-02-29T00:00:00
``59 59 23 31 12 *``       last second of the year         2025-12-31T23:59:59
``0 0 8 1-7 * Mon``        08:00 on the first Monday       2025-01-06T08:00:00
``0 0 0 13 * Fri``         midnight on Friday the 13th     2025-06-13T00:00:00
``0 15-45/15 * * * *``     minutes 15, 30, 45              2025-01-01T00:15:00
=========================  ==============================  ============================
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december")  # fmt: skip
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
# Most days each month can have (February in a leap year), for rejecting schedules that never fire.
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$")
_SHAPE = "{second} {minute} {hour} {day} {month} {day-of-week}"
# Every weekday/date combination recurs within the 400-year Gregorian cycle; beyond it nothing will.
_SEARCH_YEARS = 400


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]
    spelled: str  # how names are described in errors


_FIELDS = (
    _Field("second", 0, 59, {}, ""),
    _Field("minute", 0, 59, {}, ""),
    _Field("hour", 0, 23, {}, ""),
    _Field("day", 1, 31, {}, ""),
    _Field("month", 1, 12, {n: i + 1 for names in (_MONTHS, _MONTH_NAMES) for i, n in enumerate(names)}, "Jan..Dec"),
    # 7 is accepted as a second Sunday and folded onto 0 after expansion.
    _Field("day-of-week", 0, 7, {n: i for names in (_DAYS, _DAY_NAMES) for i, n in enumerate(names)}, "Sun..Sat"),
)


class _Invalid(Exception):
    """A reason one field is invalid; ``parse`` adds the field name and the expression."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed timer schedule: the expression, the allowed values of each field, or a fixed ``interval``."""

    expression: str
    seconds: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    days: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    days_of_week: tuple[int, ...] = ()  # 0 = Sunday
    interval: timedelta | None = None

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse six-field NCRONTAB or a TimeSpan; ValueError naming the field and why if invalid."""
        text = expression.strip()
        if not text:
            raise ValueError(f'schedule: empty; expected "{_SHAPE}" or a TimeSpan "hh:mm:ss"')
        if ":" in text and " " not in text:
            return cls(expression=text, interval=_parse_timespan(text))
        parts = text.split()
        if len(parts) != 6:
            hint = f'; Azure Functions schedules start with seconds, e.g. "0 {text}"' if len(parts) == 5 else ""
            raise ValueError(
                f'schedule: expected 6 fields "{_SHAPE}" or a TimeSpan "hh:mm:ss", got {len(parts)} in "{text}"{hint}'
            )
        values: list[tuple[int, ...]] = []
        for field, part in zip(_FIELDS, parts, strict=True):
            try:
                values.append(_parse_field(part, field))
            except _Invalid as reason:
                raise ValueError(f'{field.name}: {reason} in "{text}"') from None
        seconds, minutes, hours, days, months, days_of_week = values
        if all(day > _LONGEST_MONTH[month - 1] for day in days for month in months):
            named = ",".join(_MONTHS[month - 1].title() for month in months)
            listed = ",".join(str(day) for day in days)
            raise ValueError(f'day: {listed} never occurs in {named} in "{text}"')
        return cls(text, seconds, minutes, hours, days, months, days_of_week)

    @property
    def fires_more_than_once_a_minute(self) -> bool:
        """True for intervals under a minute and cron schedules with several seconds per minute.

        The Functions host turns schedule monitoring off by default for such schedules.
        """
        if self.interval is not None:
            return self.interval < timedelta(minutes=1)
        return len(self.seconds) > 1

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
        """The first occurrence strictly after ``moment``; aware UTC in and out.

        Walks field by field from the largest (month) down, jumping straight to the next allowed value
        of a field that does not match, so a sparse schedule ("0 0 0 29 2 *") costs a few steps per year.
        """
        utc = _as_utc(moment)
        if self.interval is not None:
            return utc + self.interval
        at = utc.replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
        last_year = at.year + _SEARCH_YEARS
        while at.year <= last_year:
            if at.month not in self.months:
                month = _next_in(self.months, at.month)
                at = datetime(at.year + 1, self.months[0], 1) if month is None else datetime(at.year, month, 1)
            elif at.day not in self.days:
                day = _next_in(self.days, at.day)
                fits = day is not None and day <= _days_in_month(at)
                at = at.replace(day=day, hour=0, minute=0, second=0) if fits else _next_month(at)
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
        raise ValueError(f'schedule "{self.expression}" has no occurrence within {_SEARCH_YEARS} years of {utc}')

    def _day_matches(self, moment: datetime) -> bool:
        # NCrontab semantics: day-of-month AND day-of-week (see the module docstring).
        return moment.day in self.days and (moment.weekday() + 1) % 7 in self.days_of_week

    def __str__(self) -> str:
        return self.expression


def _parse_field(text: str, field: _Field) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, field))
    if field.name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return tuple(sorted(values))


def _parse_item(item: str, field: _Field) -> range:
    if not item:
        raise _Invalid("empty item in a comma list")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        step = _number(step_text, "step")
        if step < 1:
            raise _Invalid(f"step {step} must be at least 1")
    if base == "*":
        start, end = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        if not first or not last:
            raise _Invalid(f'range "{base}" needs a start and an end (e.g. 1-5)')
        start, end = _value(first, field), _value(last, field)
        if start > end:
            raise _Invalid(f"range {base} runs backwards; write the smaller value first")
    else:
        start = _value(base, field)
        end = field.high if slash else start
    return range(start, end + 1, step)


def _value(token: str, field: _Field) -> int:
    if token.isdigit():
        value = int(token)
        if not field.low <= value <= field.high:
            raise _Invalid(f"{value} is outside {field.low}-{field.high}")
        return value
    if field.names:
        value = field.names.get(token.lower())
        if value is None:
            raise _Invalid(f'"{token}" is not a {field.name} name ({field.spelled}) or number')
        return value
    raise _Invalid(f'"{token}" is not a number' if token else "missing value")


def _number(token: str, what: str) -> int:
    if not token.isdigit():
        raise _Invalid(f'{what} "{token}" is not a number')
    return int(token)


def _parse_timespan(text: str) -> timedelta:
    match = _TIMESPAN.match(text)
    if not match:
        raise ValueError(f'TimeSpan: "{text}" is not "[d.]hh:mm[:ss]" (e.g. "00:00:30" for every 30 seconds)')
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    for value, limit, unit in ((hours, 23, "hours"), (minutes, 59, "minutes"), (seconds, 59, "seconds")):
        if value > limit:
            raise ValueError(f'TimeSpan: {unit} {value} is outside 0-{limit} in "{text}"')
    interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not interval:
        raise ValueError(f'TimeSpan: "{text}" is zero; an interval must be positive')
    return interval


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
