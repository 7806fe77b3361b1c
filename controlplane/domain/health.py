"""Health reports: one typed outcome for every probe of an ASP.NET Core HealthChecks endpoint.

Workloads answer with the HealthChecks UI client writer (JSON) or the default plain-text writer. The HTTP
adapter hands responses to ``parse_health_response`` and network failures to ``report_for_probe_error``;
either way a failed probe is data on the report, never an exception.

How a response becomes an overall status (ASP.NET Core maps Healthy/Degraded to 200, Unhealthy to 503):

    HTTP | body                    | status    | failure
    -----+-------------------------+-----------+--------------------
    200  | Healthy / Degraded      | as body   | -
    200  | Unhealthy               | Unhealthy | -
    503  | any valid report        | Unhealthy | -  (entries kept)
    any  | empty/garbage/oversized | Unhealthy | invalid_body (200, 503) / unexpected_status (others)
    404… | any                     | Unhealthy | unexpected_status  (entries kept when the body is valid)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from controlplane.errors import PermanentError

MAX_BODY_BYTES = 1024 * 1024
_EXCERPT_CHARS = 80
_SUMMARY_REASON_CHARS = 160


class HealthStatus(StrEnum):
    """The three ASP.NET Core health statuses, spelled as the writers spell them."""

    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    UNHEALTHY = "Unhealthy"

    @classmethod
    def parse(cls, value: object) -> HealthStatus | None:
        """Case-insensitive name, or the .NET enum number (0-2) a writer without a string converter emits."""
        if isinstance(value, str):
            return _BY_NAME.get(value.strip().lower())
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(_WORST_FIRST):
            return _WORST_FIRST[value]
        return None

    @staticmethod
    def worst(*statuses: HealthStatus) -> HealthStatus:
        """The most severe status; ``worst()`` of nothing is Healthy, as ASP.NET reports no checks."""
        return min(statuses, key=_WORST_FIRST.index, default=HealthStatus.HEALTHY)


# Index is the .NET HealthStatus enum value (Unhealthy=0, Degraded=1, Healthy=2), so worst sorts first.
_WORST_FIRST = (HealthStatus.UNHEALTHY, HealthStatus.DEGRADED, HealthStatus.HEALTHY)
_BY_NAME = {status.value.lower(): status for status in HealthStatus}
worst = HealthStatus.worst


class ProbeFailure(StrEnum):
    """Why a probe produced no trustworthy report (the overall status is then Unhealthy)."""

    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    INVALID_BODY = "invalid_body"
    UNEXPECTED_STATUS = "unexpected_status"
    CONNECTION_ERROR = "connection_error"


@dataclass(frozen=True)
class HealthEntry:
    """One named check of a report; ``data`` is a read-only private copy of the check's JSON data."""

    name: str
    status: HealthStatus
    description: str | None = None
    exception: str | None = None
    duration_ms: float | None = None
    tags: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))
        # A JSON round trip proves the data serialisable and unties it from the caller's dict.
        object.__setattr__(self, "data", MappingProxyType(_json_copy(self.data)))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict with camelCase keys."""
        return {
            "name": self.name,
            "status": self.status.value,
            "description": self.description,
            "exception": self.exception,
            "durationMs": self.duration_ms,
            "tags": list(self.tags),
            "data": _json_copy(self.data),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "entry") -> HealthEntry:
        """Inverse of ``to_dict``; raises ``PermanentError`` naming the field when ``data`` is malformed."""
        _require_mapping(data, path)
        tags = _wire(data, "tags", list, path) or []
        if not all(isinstance(tag, str) for tag in tags):
            raise PermanentError(f"{path}.tags: expected a list of strings (got {tags!r})")
        return cls(
            name=_wire(data, "name", str, path, required=True),
            status=_wire(data, "status", HealthStatus, path, required=True),
            description=_wire(data, "description", str, path),
            exception=_wire(data, "exception", str, path),
            duration_ms=_wire(data, "durationMs", (int, float), path),
            tags=tuple(tags),
            data=_wire(data, "data", Mapping, path) or {},
        )


@dataclass(frozen=True)
class HealthReport:
    """The outcome of one probe: overall status, the server's entries, and why the probe failed if it did."""

    status: HealthStatus
    http_status: int | None = None
    duration_ms: float | None = None
    entries: tuple[HealthEntry, ...] = ()
    failure: ProbeFailure | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))

    @property
    def failing_entries(self) -> tuple[HealthEntry, ...]:
        """Entries that are Degraded or Unhealthy, in report order."""
        return tuple(entry for entry in self.entries if entry.status is not HealthStatus.HEALTHY)

    def passed(self, allow_degraded: bool) -> bool:
        """Whether a health gate lets this report through; Degraded passes only when allowed."""
        if self.failure is not None or self.status is HealthStatus.UNHEALTHY:
            return False
        return self.status is HealthStatus.HEALTHY or allow_degraded

    def summary(self) -> str:
        """One readable line, e.g. ``Unhealthy (HTTP 503): db: Unhealthy — connection refused``."""
        head = self.status.value if self.http_status is None else f"{self.status} (HTTP {self.http_status})"
        parts = [_one_line(self.detail)] if self.detail else []
        for entry in self.failing_entries:
            reasons = [_one_line(text) for text in (entry.description, entry.exception) if text]
            reason = reasons[0] if reasons else ""
            if len(reasons) == 2 and reasons[1] != reasons[0]:
                reason = f"{reasons[0]} ({reasons[1]})"
            parts.append(f"{entry.name}: {entry.status}" + (f" — {reason}" if reason else ""))
        return f"{head}: {'; '.join(parts)}" if parts else head

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict with camelCase keys; ``from_dict`` reads it back unchanged."""
        return {
            "status": self.status.value,
            "httpStatus": self.http_status,
            "durationMs": self.duration_ms,
            "entries": [entry.to_dict() for entry in self.entries],
            "failure": None if self.failure is None else self.failure.value,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HealthReport:
        """Inverse of ``to_dict``; raises ``PermanentError`` naming the field when ``data`` is malformed."""
        _require_mapping(data, "healthReport")
        entries = _wire(data, "entries", list, "healthReport") or []
        return cls(
            status=_wire(data, "status", HealthStatus, "healthReport", required=True),
            http_status=_wire(data, "httpStatus", int, "healthReport"),
            duration_ms=_wire(data, "durationMs", (int, float), "healthReport"),
            entries=tuple(
                HealthEntry.from_dict(entry, f"healthReport.entries[{index}]") for index, entry in enumerate(entries)
            ),
            failure=_wire(data, "failure", ProbeFailure, "healthReport"),
            detail=_wire(data, "detail", str, "healthReport"),
        )


def report_for_probe_error(failure: ProbeFailure, detail: str) -> HealthReport:
    """An Unhealthy report for a probe that got no response, e.g. ``(TIMEOUT, "timed out after 2.0 s")``."""
    return HealthReport(status=HealthStatus.UNHEALTHY, failure=failure, detail=detail)


def parse_health_response(status_code: int, body: bytes | str, content_type: str | None = None) -> HealthReport:
    """Turn an HTTP response from a HealthChecks endpoint into a report (see the table in the module doc).

    ``content_type`` is only quoted in the detail of an unreadable body: ASP.NET writers are recognised
    by their content, and the plain-text writer is accepted under any content type.
    """
    try:
        parsed, problem = _parse_body(body), None
    except _NotAReport as error:
        parsed, problem = None, str(error) + (f" (content type {content_type})" if content_type else "")
    base = parsed or HealthReport(HealthStatus.UNHEALTHY)
    failure, detail = None, None
    if status_code not in (200, 503):
        failure = ProbeFailure.UNEXPECTED_STATUS
        detail = f"unexpected HTTP status {status_code}" + (f"; {problem}" if problem else "")
    elif problem:
        failure, detail = ProbeFailure.INVALID_BODY, problem
    elif status_code == 503 and base.status is not HealthStatus.UNHEALTHY:
        detail = f"HTTP 503 although the body reports {base.status}"
    elif status_code == 200 and base.status is HealthStatus.UNHEALTHY:
        detail = "body reports Unhealthy although the HTTP status is 200"
    status = base.status if status_code == 200 and failure is None else HealthStatus.UNHEALTHY
    return replace(base, status=status, http_status=status_code, failure=failure, detail=detail)


class _NotAReport(Exception):
    """The body cannot be read as a health report; the message is the report's detail."""


def _parse_body(body: bytes | str) -> HealthReport:
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else bytes(body)
    if len(raw) > MAX_BODY_BYTES:
        head = _excerpt(raw[: _EXCERPT_CHARS * 4].decode("utf-8", "replace"))
        raise _NotAReport(f"body is {len(raw)} bytes, over the {MAX_BODY_BYTES}-byte limit: {head}")
    try:
        text = body if isinstance(body, str) else raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _NotAReport(f"body is not UTF-8 text: {raw[:_EXCERPT_CHARS]!r}") from None
    text = text.lstrip("\ufeff").strip()
    if not text:
        raise _NotAReport("body is empty; expected a health report")
    if text.lower() in _BY_NAME:  # the default writer: the bare status name
        return HealthReport(_BY_NAME[text.lower()])
    try:
        return _from_ui_json(json.loads(text, parse_constant=_reject_constant))
    except (ValueError, RecursionError) as error:
        raise _NotAReport(f"body is not a health report: {_excerpt(text)} ({error})") from None


def _from_ui_json(document: object) -> HealthReport:
    """Read the HealthChecks UI writer's shape; key names are matched case-insensitively."""
    fields = _lower_keys(document)
    if fields is None or (fields.get("status") is None and not fields.get("entries")):
        raise ValueError("expected a JSON object with a status or entries")
    raw_entries = fields.get("entries") or {}
    if not isinstance(raw_entries, dict):
        raise ValueError("entries: expected an object keyed by check name")
    entries = tuple(_entry_from_ui_json(name, raw) for name, raw in raw_entries.items())
    if fields.get("status") is None:  # derive it as ASP.NET does: the worst entry wins
        status = HealthStatus.worst(*(entry.status for entry in entries))
    else:
        status = _ui_status(fields["status"], "status")
    return HealthReport(status, duration_ms=_timespan_ms(fields.get("totalduration")), entries=entries)


def _entry_from_ui_json(name: str, raw: object) -> HealthEntry:
    fields = _lower_keys(raw)
    if fields is None:
        raise ValueError(f"entries[{name!r}]: expected an object")
    tags, data = fields.get("tags"), fields.get("data")
    return HealthEntry(
        name=name,
        status=_ui_status(fields.get("status"), f"entries[{name!r}].status"),
        description=_text_or_none(fields.get("description")),
        exception=_text_or_none(fields.get("exception")),
        duration_ms=_timespan_ms(fields.get("duration")),
        tags=tuple(tag for tag in tags if isinstance(tag, str)) if isinstance(tags, list) else (),
        data=data if isinstance(data, dict) else {},
    )


def _ui_status(value: object, path: str) -> HealthStatus:
    status = HealthStatus.parse(value)
    if status is None:
        raise ValueError(f"{path}: {value!r} is not Healthy, Degraded or Unhealthy")
    return status


# .NET TimeSpan "c" format: [-][d.]hh:mm:ss[.fffffff], where f is one of up to 7 tick digits (100 ns).
#   "00:00:00.0123456"   ->     12.3456 ms
#   "1.02:03:04.5000000" -> 93784500.0 ms   (1 day 2 h 3 min 4.5 s)
#   "-00:00:01.5"        ->    -1500.0 ms
_TIMESPAN = re.compile(r"(-)?(?:(\d+)\.)?([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.(\d{1,7}))?")


def _timespan_ms(value: object) -> float | None:
    match = _TIMESPAN.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    sign, days, hours, minutes, seconds, fraction = match.groups()
    whole_seconds = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds)
    ticks = whole_seconds * 10_000_000 + int((fraction or "").ljust(7, "0"))
    return (-ticks if sign else ticks) / 10_000


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _lower_keys(value: object) -> dict[str, Any] | None:
    return {str(key).lower(): item for key, item in value.items()} if isinstance(value, dict) else None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _excerpt(text: str) -> str:
    """A quoted, escaped prefix: safe to put in a log line or event whatever the body held."""
    return repr(text[:_EXCERPT_CHARS]) + ("…" if len(text) > _EXCERPT_CHARS else "")


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SUMMARY_REASON_CHARS else flat[: _SUMMARY_REASON_CHARS - 1] + "…"


def _json_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(data), allow_nan=False))


def _require_mapping(value: object, path: str) -> None:
    if not isinstance(value, Mapping):
        raise PermanentError(f"{path}: expected an object (got {type(value).__name__})")


def _wire(data: Mapping[str, Any], key: str, kind: Any, path: str, required: bool = False) -> Any:
    """One field of a ``to_dict`` document, type-checked; a StrEnum ``kind`` converts the value."""
    value = data.get(key)
    enum = kind if isinstance(kind, type) and issubclass(kind, StrEnum) else None
    if value is None and not required:
        return None
    if enum is None and isinstance(value, kind) and not isinstance(value, bool):
        return value
    if enum is not None and value in [member.value for member in enum]:
        return enum(value)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    expected = ", ".join(enum) if enum else " or ".join(k.__name__ for k in kinds)
    raise PermanentError(f"{path}.{key}: expected {expected} (got {value!r})")
