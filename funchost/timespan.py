"""A timer schedule read as a .NET ``TimeSpan``, as the timer extension reads one. Pure: no I/O.

The extension tries NCRONTAB first and then ``TimeSpan.TryParse(expression)`` (azure-webjobs-sdk-extensions,
``Timers/Scheduling/TimerSchedule.cs``, ``Create``). This module gives the same answers as that call under the
invariant culture (and en-US, whose separators are the same), following ``TimeSpanParse.TryParseTimeSpan`` in
dotnet/runtime (``System/Globalization/TimeSpanParse.cs``):

* surrounding white space is trimmed; the rest splits into runs of ASCII digits (numbers) and runs of
  anything else (separators); an optional leading ``-`` makes it negative;
* the separators between the numbers pick the form; a form whose numbers are out of range (hours over 23,
  minutes or seconds over 59, days over 10675199, more than 7 fraction digits unless they start with 0)
  gives way to the next form with the same separators, and the parse fails if none fits.

=============================  =================================  ===========================
separators                     form                               example -> interval
=============================  =================================  ===========================
(none)                         days                               ``5`` -> 5 days
``:``                          hours:minutes                      ``02:03`` -> 2 h 3 min
``: :``                        hours:minutes:seconds, else        ``00:00:30`` -> 30 s;
                               days:hours:minutes                 ``30:00:00`` -> 30 days
``. :``                        days.hours:minutes                 ``1.02:03`` -> 1 d 2 h 3 min
``: :.``                       hours:minutes:.fraction            ``00:01:.5`` -> 1.5 min
``: : .``                      hours:minutes:seconds.fraction     ``00:00:30.5`` -> 30.5 s
``. : :``                      days.hours:minutes:seconds         ``1.02:03:04``
``: : :``                      days:hours:minutes:seconds         ``1:02:03:04``
``. : :.`` / ``: : :.``        days.hours:minutes:.fraction       ``1.02:03:.5``
``. : : .`` / ``: : : .``      days.hours:minutes:seconds.frac    ``1.02:03:04.5``
=============================  =================================  ===========================

Zero and negative intervals parse (``00:00:00``, ``-00:00:30``); what the timer does with them is the
scheduler's business. The result is rounded down to whole microseconds (a tick is 100 ns).
"""

from __future__ import annotations

import re
from datetime import timedelta

_MAX_DAYS = 10_675_199
_MAX_TICKS = 2**63 - 1
_TICKS_PER_SECOND = 10_000_000
_FRACTION_DIGITS = 7
# A number token larger than this overflows the tokenizer (TimeSpanParse.cs: "(num & 0xF0000000) != 0").
_MAX_TOKEN = 0x0FFF_FFFF
_TOKENS = re.compile(r"[0-9]+|[^0-9]+")
# .NET's char.IsWhiteSpace, which ReadOnlySpan.Trim uses: Python's str.isspace less the information
# separators U+001C..U+001F, which .NET does not count as white space.
_NOT_DOTNET_SPACE = "\x1c\x1d\x1e\x1f"

# Separators between the numbers -> the fields those numbers fill, in the order .NET tries them.
# "d" days, "h" hours, "m" minutes, "s" seconds, "f" fraction.
_FORMS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("d",),
    (":",): ("hm",),
    (":", ":"): ("hms", "dhm"),
    (".", ":"): ("dhm",),
    (":", ":."): ("hmf",),
    (":", ":", "."): ("hmsf",),
    (".", ":", ":"): ("dhms",),
    (":", ":", ":"): ("dhms",),
    (".", ":", ":."): ("dhmf",),
    (":", ":", ":."): ("dhmf",),
    (".", ":", ":", "."): ("dhmsf",),
    (":", ":", ":", "."): ("dhmsf",),
}
_LIMITS = {"d": _MAX_DAYS, "h": 23, "m": 59, "s": 59}
_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_timespan(text: str) -> timedelta | None:
    """``text`` as ``TimeSpan.TryParse`` reads it (invariant culture), or None where that returns false."""
    trimmed = _trim(text)
    tokens = _TOKENS.findall(trimmed)
    if not tokens:
        return None
    negative = False
    if not tokens[0].isdigit():
        if tokens[0] != "-":
            return None
        negative, tokens = True, tokens[1:]
    if not tokens or not tokens[-1].isdigit():
        return None  # the end literal must be empty: nothing may follow the last number
    numbers, separators = tokens[0::2], tuple(tokens[1::2])
    if any(int(number) > _MAX_TOKEN for number in numbers):
        return None
    for form in _FORMS.get(separators, ()):
        ticks = _ticks(form, numbers)
        if ticks is not None:
            return timedelta(microseconds=(-ticks if negative else ticks) // 10)
    return None


def parse_timespan_setting(value: object) -> timedelta | None:
    """A host.json value as the configuration binder reads a TimeSpan: a string, or a JSON number as its text
    (so ``5`` is five days); None where it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return parse_timespan(str(value))


def _ticks(form: str, numbers: list[str]) -> int | None:
    total_seconds, fraction = 0, 0
    for field, digits in zip(form, numbers, strict=True):
        if field == "f":
            fraction_ticks = _fraction_ticks(digits)
            if fraction_ticks is None:
                return None
            fraction = fraction_ticks
            continue
        value = int(digits)
        if value > _LIMITS[field]:
            return None
        total_seconds += value * _SECONDS[field]
    ticks = total_seconds * _TICKS_PER_SECOND + fraction
    return ticks if ticks <= _MAX_TICKS else None


def _fraction_ticks(digits: str) -> int | None:
    """Digits after the decimal point as 100 ns ticks; more than 7 digits only when they start with 0."""
    value = int(digits)
    if value == 0:
        return 0
    if len(digits) <= _FRACTION_DIGITS:
        return value * 10 ** (_FRACTION_DIGITS - len(digits))
    if not digits.startswith("0"):
        return None
    scale = 10 ** (len(digits) - _FRACTION_DIGITS)
    return (value + scale // 2) // scale  # rounded half away from zero


def _trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start].isspace() and text[start] not in _NOT_DOTNET_SPACE:
        start += 1
    while end > start and text[end - 1].isspace() and text[end - 1] not in _NOT_DOTNET_SPACE:
        end -= 1
    return text[start:end]
