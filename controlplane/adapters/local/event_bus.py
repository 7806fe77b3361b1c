"""The EventBus port on the local host's Service Bus emulator: envelopes go to the event topic as the Service Bus
adapter sends them (``adapters.azure.servicebus.mapping``), as host messages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from controlplane.adapters.azure.servicebus.mapping import envelope_to_message
from controlplane.domain.events import Envelope
from controlplane.errors import TransientError
from funchost.servicebus.message import Message, Sender

TOPIC = "events"  # the topic triggers/servicebus.py subscribes to


class LocalEventBus:
    """Publishes through the emulator's ``Sender``; its message log is the duplicate detection.

    ``fault_file`` is the fault tests' switch (``CONTROLPLANE_LOCAL_BUS_FAULT_FILE``): while that file exists,
    every publish fails as an unreachable namespace would, with nothing sent.
    """

    def __init__(self, sender: Sender, topic: str = TOPIC, fault_file: Path | None = None) -> None:
        self._sender = sender
        self._topic = topic
        self._fault_file = fault_file

    def publish(self, events: Sequence[Envelope]) -> None:
        """Publish in order, at least once; a re-published id is dropped as a duplicate."""
        if self._fault_file is not None and self._fault_file.exists():
            raise TransientError(f"local event bus: publishing is switched off while {self._fault_file} exists")
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
