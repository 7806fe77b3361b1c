"""The product's envelopes on a running host's bus: built as valid CloudEvents and sent as the product's local
event bus sends them (``envelope_message``), through the host tests' bus client."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controlplane.adapters.local.event_bus import envelope_message
from controlplane.domain.events import Envelope, traceparent_for
from funchost.tests.e2e.bus_client import BusClient


def envelope(
    event_type: str,
    traceid: str,
    data: Mapping[str, Any] | None = None,
    event_id: str = "",
    causationid: str | None = None,
) -> Envelope:
    """A valid structured CloudEvent of ``event_type`` in trace ``traceid``."""
    event_id = event_id or str(uuid.uuid4())
    return Envelope(
        id=event_id,
        source="/e2e-tests",
        type=event_type,
        time=datetime.now(UTC),
        data=dict(data or {}),
        traceid=traceid,
        traceparent=traceparent_for(traceid, event_id),
        correlationid=f"e2e-{traceid[:8]}",
        subject="e2e",
        causationid=causationid,
    )


def publish(bus: BusClient, *envelopes: Envelope) -> None:
    """Send ``envelopes`` to the host's event topic, in order, as the product's messages."""
    bus.publish(*(envelope_message(each) for each in envelopes))
