"""The EventBus port on the local host's Service Bus emulator: envelopes go to the event topic as the Service Bus
adapter sends them (``adapters.azure.servicebus.mapping``), as host messages."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.adapters.azure.servicebus.mapping import envelope_to_message
from controlplane.domain.events import Envelope
from funchost.servicebus.message import Message, Sender

TOPIC = "events"  # the topic triggers/servicebus.py subscribes to


class LocalEventBus:
    """Publishes through the emulator's ``Sender``; its message log is the duplicate detection."""

    def __init__(self, sender: Sender, topic: str = TOPIC) -> None:
        self._sender = sender
        self._topic = topic

    def publish(self, events: Sequence[Envelope]) -> None:
        """Publish in order, at least once; a re-published id is dropped as a duplicate."""
        self._sender.send(self._topic, [envelope_message(envelope) for envelope in events])


def envelope_message(envelope: Envelope) -> Message:
    """The emulator's message carrying ``envelope``, field for field as the Service Bus adapter sends it."""
    fields = envelope_to_message(envelope)
    return Message(
        message_id=fields.message_id,
        correlation_id=fields.correlation_id,
        subject=fields.subject,
        content_type=fields.content_type,
        application_properties=fields.application_properties,
        body=fields.body,
    )
