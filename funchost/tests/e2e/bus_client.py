"""Publishing to, and reading, the local bus of a running host process from the test process.

The host keeps its bus in Table storage and its dispatcher polls every second, so messages written here by
another process are delivered by the running host, as a second process sharing the storage would publish.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from azure.data.tables import TableServiceClient

from funchost.servicebus.bus import LocalBus
from funchost.servicebus.message import Message
from funchost.servicebus.records import Delivery
from funchost.storage.azure_tables import AzureTables
from funchost.tests.apps import durable_app

TOPIC = "events"  # the topic of the durable test app's on_bus_event
SUBSCRIPTION = f"{TOPIC}/Subscriptions/e2e"
CLOUDEVENTS = "application/cloudevents+json"  # a structured CloudEvent's content type


def new_traceid() -> str:
    return uuid.uuid4().hex


def event_message(
    event_type: str, traceid: str, data: Mapping[str, Any] | None = None, message_id: str = ""
) -> Message:
    """A message as a producer of CloudEvents sends one: its body the event (``type`` and ``data``, which the test
    app's ``on_bus_event`` reads), its subject the type, its correlation id the trace."""
    message_id = message_id or str(uuid.uuid4())
    body = {"specversion": "1.0", "id": message_id, "type": event_type, "data": dict(data or {})}
    return Message(message_id, traceid, event_type, CLOUDEVENTS, {"type": event_type}, json.dumps(body).encode())


class BusClient:
    """The local bus of the host using ``connection_string`` and table prefix ``prefix``."""

    def __init__(self, connection_string: str, prefix: str) -> None:
        tables = AzureTables(TableServiceClient.from_connection_string(connection_string), prefix=prefix)
        self._bus = LocalBus(tables, [durable_app.index().get("on_bus_event")])

    def publish(self, *messages: Message) -> None:
        """Send to the test app's topic, in order, as any producer might: the bus does not read bodies."""
        self._bus.send(TOPIC, messages)

    def delivery(self, message_id: str) -> Delivery:
        """The message's delivery record on the ``e2e`` subscription."""
        (found,) = self._bus.deliveries(message_id)
        return found

    def dead_letters(self) -> list[Delivery]:
        return self._bus.dead_letters()
