"""The audit query over the event log: which events match, where each is indexed, and where a page starts.

The audit index keeps each event under its UTC day (the partition) with a row key that inverts its time, so
reading a day in key order reads it newest first, and a time range is a row-key range within each day:

    time                          microseconds since 1970        row key (10**17 - 1 - microseconds, 17 digits)
    2026-11-26T12:00:00.000000Z   1_795_694_400_000_000          98204305599999999|<event id>
    2026-11-26T12:00:00.000001Z   1_795_694_400_000_001          98204305599999998|<event id>   (newer: smaller)

Events newer than ``until`` have smaller keys, so a range's rows start at ``row_bound(until)``; events older
than ``since`` have keys from ``row_bound(since)`` on, where it stops. Dates up to the year 5138 fit 17 digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from controlplane.domain.events import Envelope
from controlplane.domain.paging import DEFAULT_LIMIT, MAX_LIMIT, InvalidToken, decode_token, encode_token

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INVERSION = 10**17
_MICROSECOND = timedelta(microseconds=1)
_POSITION = {"day": re.compile(r"\d{4}-\d{2}-\d{2}"), "row": re.compile(r"\d{17}\|.+", re.DOTALL)}

# The index's columns: what a query filters on before the event itself is read (``EventQuery.matches`` decides).
TYPE, ENVIRONMENT, SERVICE, MANY_SERVICES = "type", "environment", "service", "manyServices"
ACTOR_NAME, ACTOR_OBJECT_ID, TRACEID = "actorName", "actorObjectId", "traceid"


def day_of(moment: datetime) -> str:
    """The UTC day ``moment`` falls on, as the index's partition key (YYYY-MM-DD)."""
    return moment.astimezone(UTC).date().isoformat()


def audit_row(moment: datetime, event_id: str) -> str:
    return f"{_inverted(moment):017d}|{event_id}"


def row_bound(moment: datetime) -> str:
    """The first row key of events older than ``moment`` (every row before it is ``moment`` or newer)."""
    return f"{_inverted(moment) + 1:017d}"


def _inverted(moment: datetime) -> int:
    return _INVERSION - 1 - (moment - _EPOCH) // _MICROSECOND


def event_services(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The services an event is about: ``data.service``, and ``data.services`` as the builders write it (a list
    of names, a list of objects with a ``name``, or a map keyed by name, as RuntimeDeploymentCompleted's)."""
    names: list[str] = [data["service"]] if isinstance(data.get("service"), str) else []
    listed = data.get("services")
    if isinstance(listed, Mapping):
        names.extend(name for name in listed if isinstance(name, str))
    elif isinstance(listed, list):
        for item in listed:
            name = item.get("name") if isinstance(item, Mapping) else item
            if isinstance(name, str):
                names.append(name)
    return tuple(dict.fromkeys(names))


def event_actor(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The (name, object id) of the operator ``data.actor`` names, when the event records one."""
    actor = data.get("actor")
    if not isinstance(actor, Mapping):
        return None, None
    name, object_id = actor.get("name"), actor.get("objectId")
    return (name if isinstance(name, str) else None, object_id if isinstance(object_id, str) else None)


def audit_columns(envelope: Envelope) -> dict[str, str | bool]:
    """The index columns of an event: one ``service`` column when it is about one service, ``manyServices``
    when about more (a query for a service reads those and checks the list)."""
    columns: dict[str, str | bool] = {TYPE: envelope.type, TRACEID: envelope.traceid}
    environment = envelope.data.get("environment")
    if isinstance(environment, str):
        columns[ENVIRONMENT] = environment
    services = event_services(envelope.data)
    if len(services) == 1:
        columns[SERVICE] = services[0]
    elif services:
        columns[MANY_SERVICES] = True
    name, object_id = event_actor(envelope.data)
    if name is not None:
        columns[ACTOR_NAME] = name
    if object_id is not None:
        columns[ACTOR_OBJECT_ID] = object_id
    return columns


@dataclass(frozen=True)
class AuditPosition:
    """Where a page of the audit starts: a day of the index and a row key in it (inclusive)."""

    day: str
    row: str

    def token(self) -> str:
        return encode_token("events", {"day": self.day, "row": self.row})

    @classmethod
    def from_token(cls, token: str) -> AuditPosition:
        """The position a continuation holds; InvalidToken if the events listing did not hand it out."""
        position = decode_token("events", token, _POSITION)
        try:
            date.fromisoformat(position["day"])
        except ValueError:
            raise InvalidToken("not a continuation this listing handed out") from None
        return cls(position["day"], position["row"])


@dataclass(frozen=True)
class EventQuery:
    """Events of ``since`` (inclusive) to ``until`` (exclusive) of any of ``types`` (any type when empty), of an
    environment, a service, an actor (name or object id), newest first, ``limit`` a page, from ``start`` on."""

    since: datetime
    until: datetime
    types: frozenset[str] = frozenset()
    environment: str | None = None
    service: str | None = None
    actor: str | None = None
    limit: int = DEFAULT_LIMIT
    start: AuditPosition | None = None

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("since and until must be timezone-aware")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT} (got {self.limit})")

    def days(self) -> list[str]:
        """The index's days to read, newest first: from ``start``'s day (or the day of ``until``) to ``since``'s."""
        last = (self.until - _MICROSECOND).astimezone(UTC).date()
        if self.start is not None:
            last = min(last, date.fromisoformat(self.start.day))
        first = self.since.astimezone(UTC).date()
        return [(last - timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]

    def rows(self, day: str) -> tuple[str, str]:
        """The row keys of ``day`` to read: from the first (inclusive) to the last (exclusive)."""
        first = row_bound(self.until)
        if self.start is not None and self.start.day == day:
            first = max(first, self.start.row)
        return first, row_bound(self.since)

    def matches(self, envelope: Envelope) -> bool:
        data = envelope.data
        return (
            self.since <= envelope.time < self.until
            and (not self.types or envelope.type in self.types)
            and (self.environment is None or data.get("environment") == self.environment)
            and (self.service is None or self.service in event_services(data))
            and (self.actor is None or self.actor in event_actor(data))
        )


@dataclass(frozen=True)
class EventPage:
    """A page of the audit, newest first; ``next`` is where the next page starts (None: there is none)."""

    events: Sequence[Envelope]
    next: AuditPosition | None
