"""Emitting events: the event log is the outbox of the bus (the transactional outbox pattern).

``record`` logs each envelope pending publish, then publishes the trace's pending events and marks them
published (many traces at once: what a loop's tick emits, recorded together, is read back and published in
one go). A publish that fails leaves them pending (the caller goes on: nothing is lost), and they are
published later by the next ``record`` of the same trace or by ``relay`` (the relay timer). Publishing
is in time order per trace and a trace's pending events go out together, oldest first, so a later event
never overtakes an earlier one. Delivery is at least once: a publish whose mark did not get written is
repeated, and the repeat is dropped by Service Bus duplicate detection and idempotent consumers.

Loop handlers have no orchestrator ``new_uuid``; they derive event ids and trace ids from what the event
is about with ``stable_id``, so a handler that runs twice emits the same ids and the second copy is dropped
as a duplicate by the event log, Service Bus duplicate detection and idempotent consumers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.trace import SpanKind

from controlplane.domain.events import Envelope
from controlplane.ports import EventBus, EventLog
from controlplane.telemetry import traced

_NAMESPACE = uuid.UUID("6f1c7a52-5d0c-4b8e-9a57-3f1f3f6b2c10")
# Pending events one relay pass reads; the rest wait for the next pass.
RELAY_BATCH = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayOutcome:
    """One relay pass: events published, and traces whose publish failed again (still pending)."""

    published: int
    failed_traces: int


def record(event_log: EventLog, bus: EventBus, envelopes: Sequence[Envelope]) -> None:
    """Log (pending publish), then publish each trace's pending events; a failed publish is only logged:
    the events stay pending for the relay. A failure to log raises (nothing was acknowledged)."""
    if not envelopes:
        return
    first = envelopes[0]
    ids = [envelope.id for envelope in envelopes]
    # eventTypes (comma-separated, in eventIds' order) is what the portal workbook and the log alerts in
    # infra/alerts.py read: the span is named after the first event only, and a closing event (Completed,
    # Failed, RuntimeIncidentRaised) follows a RuntimeDeploymentStateChanged in the same publish.
    types = ",".join(envelope.type for envelope in envelopes)
    with traced(
        f"publish {first.type}",
        first.traceid,
        kind=SpanKind.PRODUCER,
        eventIds=ids,
        eventTypes=types,
        subject=first.subject,
    ):
        event_log.append_events(envelopes)
        traces = dict.fromkeys(envelope.traceid for envelope in envelopes)
        # What was just logged and what an earlier failed publish of its traces left, however many were logged.
        limit = len(envelopes) + RELAY_BATCH
        if len(traces) == 1:
            _publish(event_log, bus, event_log.pending_events(limit, envelopes[0].traceid))
            return
        # Many traces (a loop's tick): the outbox read once, and their pending events in one publish.
        pending = event_log.pending_events(limit)
        _publish(event_log, bus, [envelope for envelope in pending if envelope.traceid in traces])


def relay(event_log: EventLog, bus: EventBus, limit: int = RELAY_BATCH) -> RelayOutcome:
    """Publish up to ``limit`` pending events, trace by trace in time order; a trace whose publish fails
    stays pending (with everything after it) and the others go on."""
    pending = event_log.pending_events(limit)
    # Re-logging is a no-op for a logged event; it completes an append that crashed after the pending mark.
    event_log.append_events(pending)
    by_trace: dict[str, list[Envelope]] = {}
    for envelope in pending:
        by_trace.setdefault(envelope.traceid, []).append(envelope)
    published = failed = 0
    for traceid, events in by_trace.items():
        with traced("relay pending events", traceid, kind=SpanKind.PRODUCER, eventIds=[e.id for e in events]):
            if _publish(event_log, bus, events):
                published += len(events)
            else:
                failed += 1
    return RelayOutcome(published=published, failed_traces=failed)


def _publish(event_log: EventLog, bus: EventBus, events: Sequence[Envelope]) -> bool:
    """Publish pending events (each trace's in time order) and mark them; False (logged) if the bus failed."""
    if not events:
        return True
    try:
        bus.publish(events)
    except Exception:  # any bus failure: the events stay pending and the relay retries them
        log.warning(
            "event bus: publishing %d event(s) of trace %s failed; kept pending for the relay",
            len(events),
            events[0].traceid,
            exc_info=True,
        )
        return False
    event_log.mark_published(events)
    return True


def stable_id(*parts: str) -> str:
    """A UUID determined by ``parts`` (UUID version 5)."""
    return str(uuid.uuid5(_NAMESPACE, "\n".join(parts)))


def stable_trace(*parts: str) -> str:
    """A 32-hex W3C trace id determined by ``parts``."""
    return uuid.uuid5(_NAMESPACE, "trace\n" + "\n".join(parts)).hex
