"""The query string of a listing route, read field by field with every problem collected (one 400 names them all).

The Functions host hands a function repeated query keys joined with commas (``type=A&type=B`` arrives as
``A,B``), so a list parameter accepts both spellings. ``code`` (a function key a client may still send) is
ignored; any other name the route does not know is refused rather than silently ignored: a misspelt filter
would otherwise answer everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime
from typing import TypeVar

import azure.functions as func

from controlplane.domain.events import parse_time
from controlplane.domain.paging import InvalidToken
from controlplane.errors import FieldError
from triggers.responses import problem

MAX_VALUE_CHARS = 256
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_IGNORED = frozenset({"code"})
Position = TypeVar("Position")


class QueryParams:
    def __init__(self, req: func.HttpRequest, known: Collection[str]) -> None:
        self._params = {name: value for name, value in req.params.items() if name not in _IGNORED}
        self.errors = [
            FieldError(name, f"unknown query parameter (known: {', '.join(sorted(known))})")
            for name in sorted(set(self._params) - set(known))
        ]

    def given(self, name: str) -> bool:
        return bool(self._params.get(name))

    def text(self, name: str) -> str | None:
        """The parameter's value (None when absent or empty), at most ``MAX_VALUE_CHARS`` characters."""
        value = self._params.get(name) or None
        if value is not None and len(value) > MAX_VALUE_CHARS:
            self.errors.append(FieldError(name, f"at most {MAX_VALUE_CHARS} characters (got {len(value)})"))
            return None
        return value

    def choices(self, name: str, allowed: Collection[str]) -> frozenset[str]:
        """The values of a repeatable parameter (repeated, or comma-separated), each one of ``allowed``; given
        empty, it names no value and is refused."""
        given = self._params.get(name)
        if given is None:
            return frozenset()
        values = frozenset(value.strip() for value in given.split(","))
        unknown = sorted(values - set(allowed))
        if unknown:
            shown = ", ".join(repr(value) for value in unknown)
            self.errors.append(FieldError(name, f"unknown value(s) {shown} (known: {', '.join(sorted(allowed))})"))
        return values & frozenset(allowed)

    def time(self, name: str) -> datetime | None:
        """An RFC 3339 timestamp with its offset, or None when absent (empty is not absent: it is no time)."""
        if name not in self._params:
            return None
        value = self._params[name]
        if not _RFC3339.fullmatch(value):
            hint = " (send a '+' offset as %2B: in a query string '+' means a space)" if " " in value else ""
            self.errors.append(
                FieldError(name, f"an RFC 3339 time such as 2026-11-26T12:00:00Z (got {value[:40]!r}){hint}")
            )
            return None
        fraction = re.search(r"\.([0-9]+)", value)
        if fraction and len(fraction.group(1)) > 6:  # datetime keeps microseconds
            value = value.replace(fraction.group(0), fraction.group(0)[:7])
        try:
            return parse_time(value.upper())
        except ValueError as error:
            self.errors.append(FieldError(name, f"not a valid time: {error}"))
            return None

    def limit(self, default: int, maximum: int) -> int:
        """The page size: ``top`` (issue 15's name) or ``limit`` (the older one), not both; ``default`` when
        neither is given."""
        given = [name for name in ("top", "limit") if name in self._params]
        if len(given) > 1:
            self.errors.append(FieldError("top", "give top or limit, not both (they name the same page size)"))
            return default
        if not given:
            return default
        name, value = given[0], self._params[given[0]]
        if not re.fullmatch(r"[0-9]{1,6}", value) or not 1 <= int(value) <= maximum:
            self.errors.append(FieldError(name, f"an integer from 1 to {maximum} (got {value[:20]!r})"))
            return default
        return int(value)

    def choice(self, name: str, allowed: Collection[str]) -> str | None:
        """The one value of a parameter that names one of ``allowed`` (None when not given); several are refused."""
        values = self.choices(name, allowed)
        if len(values) > 1:
            self.errors.append(FieldError(name, f"one {name}"))
        return next(iter(values)) if len(values) == 1 else None

    def position(self, parse: Callable[[str], Position]) -> Position | None:
        """Where the page starts: ``continuation`` read by ``parse`` (a position's ``from_token``), None when not
        given; a token ``parse`` refuses is refused naming the parameter."""
        token = self.text("continuation")
        if token is None:
            return None
        try:
            return parse(token)
        except InvalidToken as error:
            self.errors.append(FieldError("continuation", f"{error}: send back the continuation of the previous page"))
            return None

    def problem(self) -> func.HttpResponse | None:
        """400 problem+json naming every bad parameter, or None when all were good."""
        if not self.errors:
            return None
        detail = "; ".join(str(error) for error in self.errors)
        return problem(400, "Invalid query", detail, errors=[error.to_dict() for error in self.errors])
