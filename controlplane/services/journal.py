"""Emitting events: every envelope is logged (the replayable record of its trace), then published.

Loop handlers have no orchestrator ``new_uuid``; they derive event ids and trace ids from what the event
is about with ``stable_id``, so a handler that runs twice emits the same ids and the second copy is dropped
as a duplicate by the event log, Service Bus duplicate detection and idempotent consumers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from opentelemetry.trace import SpanKind

from controlplane.domain.events import Envelope
from controlplane.ports import EventBus, EventLog
from controlplane.telemetry import traced

_NAMESPACE = uuid.UUID("6f1c7a52-5d0c-4b8e-9a57-3f1f3f6b2c10")


def record(event_log: EventLog, bus: EventBus, envelopes: Sequence[Envelope]) -> None:
    """Log, then publish: an event on the bus is always in the log, so replay never misses one."""
    if not envelopes:
        return
    first = envelopes[0]
    ids = [envelope.id for envelope in envelopes]
    with traced(f"publish {first.type}", first.traceid, kind=SpanKind.PRODUCER, eventIds=ids, subject=first.subject):
        event_log.append_events(envelopes)
        bus.publish(envelopes)


def stable_id(*parts: str) -> str:
    """A UUID determined by ``parts`` (UUID version 5)."""
    return str(uuid.uuid5(_NAMESPACE, "\n".join(parts)))


def stable_trace(*parts: str) -> str:
    """A 32-hex W3C trace id determined by ``parts``."""
    return uuid.uuid5(_NAMESPACE, "trace\n" + "\n".join(parts)).hex
