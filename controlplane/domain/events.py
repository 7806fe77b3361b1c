"""The event envelope: CloudEvents 1.0 structured JSON with trace and causation extensions.

Every event the control plane emits is an :class:`Envelope`. Events of one flow share a ``traceid``
(32 lowercase hex, the W3C trace id), carry a W3C ``traceparent`` whose span id is derived from the
event id, a ``correlationid`` (deployment id or loop run id) and the ``causationid`` of the event that
caused them. Event ids are chosen by the caller — orchestrators pass ``context.new_uuid()`` — so a
retried publish produces the same id and duplicate detection drops it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from controlplane.domain.event_catalog import EventType, check_data
from controlplane.errors import FieldError, InvalidEnvelope

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
DATA_CONTENT_TYPE = "application/json"

_TRACE_ID = re.compile(r"^(?!0{32})[0-9a-f]{32}$")
_TRACEPARENT = re.compile(r"^00-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})$")
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_CORE = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data")
_OURS = ("traceid", "traceparent", "correlationid", "causationid")


@dataclass(frozen=True)
class TraceContext:
    """The correlation every event of one flow shares."""

    traceid: str
    correlationid: str

    def __post_init__(self) -> None:
        if not _TRACE_ID.match(self.traceid):
            raise ValueError(f"traceid must be 32 lowercase hex digits, not all zero (got {self.traceid!r})")
        if not self.correlationid:
            raise ValueError("correlationid must not be empty")

    @classmethod
    def from_uuid(cls, value: str, correlationid: str) -> TraceContext:
        """A trace whose id is a UUID's 32 hex digits: deterministic when the UUID is (``new_uuid``)."""
        return cls(traceid=value.replace("-", "").lower(), correlationid=correlationid)


def is_trace_id(value: str) -> bool:
    """A trace id as events carry it: 32 lowercase hex digits, not all zero (W3C trace-id)."""
    return _TRACE_ID.fullmatch(value) is not None


def span_id_for(event_id: str) -> str:
    """A stable W3C span id (16 hex) for an event id, so replays build the same traceparent."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:16]


def traceparent_for(traceid: str, event_id: str) -> str:
    return f"00-{traceid}-{span_id_for(event_id)}-01"


@dataclass(frozen=True)
class Envelope:
    """One CloudEvents 1.0 event in structured mode; ``to_dict``/``from_dict`` are lossless."""

    id: str
    source: str
    type: str
    time: datetime
    data: Mapping[str, Any]
    traceid: str
    traceparent: str
    correlationid: str
    subject: str | None = None
    causationid: str | None = None
    datacontenttype: str = DATA_CONTENT_TYPE
    extensions: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))
        object.__setattr__(self, "extensions", MappingProxyType(dict(self.extensions)))

    @property
    def event_type(self) -> EventType | None:
        """The catalog type, or None for a type this version does not know."""
        try:
            return EventType(self.type)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": format_time(self.time),
            "datacontenttype": self.datacontenttype,
            "data": json.loads(json.dumps(dict(self.data))),
            "traceid": self.traceid,
            "traceparent": self.traceparent,
            "correlationid": self.correlationid,
        }
        if self.subject is not None:
            document["subject"] = self.subject
        if self.causationid is not None:
            document["causationid"] = self.causationid
        document.update(self.extensions)
        return document

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Envelope:
        """Parse a structured CloudEvent; InvalidEnvelope lists every bad attribute."""
        errors = _validate(document)
        if errors:
            raise InvalidEnvelope(errors)
        extensions = {k: v for k, v in document.items() if k not in _CORE and k not in _OURS}
        return cls(
            id=document["id"],
            source=document["source"],
            type=document["type"],
            subject=document.get("subject"),
            time=parse_time(document["time"]),
            datacontenttype=document.get("datacontenttype", DATA_CONTENT_TYPE),
            data=document.get("data") or {},
            traceid=document["traceid"],
            traceparent=document["traceparent"],
            correlationid=document["correlationid"],
            causationid=document.get("causationid"),
            extensions=extensions,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        try:
            document = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidEnvelope([FieldError("", f"not JSON: {error}")]) from error
        if not isinstance(document, dict):
            raise InvalidEnvelope([FieldError("", "a CloudEvent must be a JSON object")])
        return cls.from_dict(document)


def new_event(
    event_type: EventType,
    *,
    event_id: str,
    source: str,
    time: datetime,
    trace: TraceContext,
    data: Mapping[str, Any],
    subject: str | None = None,
    causationid: str | None = None,
) -> Envelope:
    """Build a catalog event; its data must carry the keys the catalog requires for its type."""
    check_data(event_type, data)
    return Envelope(
        id=event_id,
        source=source,
        type=event_type.value,
        subject=subject,
        time=time,
        data=data,
        traceid=trace.traceid,
        traceparent=traceparent_for(trace.traceid, event_id),
        correlationid=trace.correlationid,
        causationid=causationid,
    )


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix and microseconds, as CloudEvents expects."""
    if moment.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone")
    return moment.astimezone(UTC)


def _validate(document: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    if document.get("specversion") != SPEC_VERSION:
        errors.append(FieldError("specversion", f"must be {SPEC_VERSION} (got {document.get('specversion')!r})"))
    for name in ("id", "source", "type", "correlationid"):
        if not isinstance(document.get(name), str) or not document[name]:
            errors.append(FieldError(name, "required non-empty string"))
    for name in ("subject", "causationid"):
        if name in document and not isinstance(document[name], str):
            errors.append(FieldError(name, "must be a string"))
    try:
        parse_time(document["time"])
    except (KeyError, TypeError, ValueError, AttributeError):
        errors.append(FieldError("time", f"RFC 3339 timestamp with timezone required (got {document.get('time')!r})"))
    if "data" in document and not isinstance(document["data"], dict):
        errors.append(FieldError("data", "must be a JSON object"))
    traceid = document.get("traceid")
    if not isinstance(traceid, str) or not is_trace_id(traceid):
        errors.append(FieldError("traceid", f"32 lowercase hex digits, not all zero, required (got {traceid!r})"))
    match = (
        _TRACEPARENT.match(document.get("traceparent") or "") if isinstance(document.get("traceparent"), str) else None
    )
    if match is None:
        errors.append(FieldError("traceparent", "W3C traceparent 00-<32 hex>-<16 hex>-<2 hex> required"))
    elif match["trace"] != traceid:
        errors.append(FieldError("traceparent", f"trace id {match['trace']} differs from traceid {traceid}"))
    for name in document:
        if name not in _CORE and not _EXTENSION_NAME.match(name):
            errors.append(FieldError(name, "extension names are 1-20 lowercase letters or digits"))
    return errors
