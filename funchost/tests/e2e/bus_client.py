"""Publishing to, and reading, the local bus of a running host process from the test process.

The host keeps its bus in Table storage and its dispatcher polls every second, so messages written here by
another process are delivered by the running host, as a second process sharing the storage would publish.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import TableServiceClient

from controlplane.adapters.local.event_bus import envelope_message
from controlplane.domain.events import Envelope, traceparent_for
from funchost.servicebus.bus import LocalBus
from funchost.servicebus.message import Message
from funchost.servicebus.records import Delivery
from funchost.storage.azure_tables import AzureTables
from funchost.tests.apps import durable_app

SUBSCRIPTION = "events/Subscriptions/e2e"


def new_traceid() -> str:
    return uuid.uuid4().hex


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


class BusClient:
    """The local bus of the host using ``connection_string`` and table prefix ``prefix``."""

    def __init__(self, connection_string: str, prefix: str) -> None:
        tables = AzureTables(TableServiceClient.from_connection_string(connection_string), prefix=prefix)
        self._bus = LocalBus(tables, [durable_app.index().get("on_bus_event")])

    def publish(self, *envelopes: Envelope) -> None:
        self._bus.publish([envelope_message(each) for each in envelopes])

    def publish_raw(self, messages: Sequence[Message]) -> None:
        """Messages as another producer might send them, envelope or not."""
        self._bus.publish(messages)

    def delivery(self, message_id: str) -> Delivery:
        """The message's delivery record on the ``e2e`` subscription."""
        (found,) = self._bus.deliveries(message_id)
        return found

    def dead_letters(self) -> list[Delivery]:
        return self._bus.dead_letters()
