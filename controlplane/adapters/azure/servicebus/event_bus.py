"""The EventBus port on a Service Bus topic.

Each envelope travels as ``servicebus_mapping.envelope_to_message`` describes: ``message_id`` = event id (so
the topic's duplicate detection drops a re-published event), ``correlation_id`` = traceid, ``subject`` = type,
``content_type`` = ``application/cloudevents+json``, application properties ``type`` / ``traceid`` /
``environment`` / ``service`` for subscription filters.

``publish`` packs the messages, in order, into as few ``ServiceBusMessageBatch``es as the sender's size limit
allows (a new batch when one is full), then sends the batches one after another, so the topic enqueues them
in publish order. Packing comes first: an event too large for a batch of its own is a PermanentError naming
it, and nothing of that publish is sent. A failure while sending leaves the batches before it sent; publishing
again sends them again, and duplicate detection (``requiresDuplicateDetection`` on the topic) drops them.

One sender per topic, opened on first use and kept; ``ServiceBusSender`` is not thread-safe, so a lock
serializes publishes on it. Errors, after the SDK's own retries:

    Service Bus error                                           | raised as
    ------------------------------------------------------------+----------------------------------------
    authentication / authorization, credential failure          | PermanentError (grant Data Sender)
    MessagingEntityNotFoundError                                | NotFound (create the topic)
    MessageSizeExceededError                                    | PermanentError
    connection, communication, timeout, server busy, quota      | TransientError
    exceeded (the topic drains), entity disabled                |
    any other ServiceBusError                                   | TransientError if the SDK calls it
                                                                | retryable, else PermanentError
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusMessageBatch, ServiceBusSender
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityDisabledError,
    MessagingEntityNotFoundError,
    OperationTimeoutError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusCommunicationError,
    ServiceBusConnectionError,
    ServiceBusError,
    ServiceBusQuotaExceededError,
    ServiceBusServerBusyError,
)

from controlplane.adapters.azure.servicebus.mapping import MessageFields, envelope_to_message
from controlplane.domain.events import Envelope
from controlplane.errors import NotFound, PermanentError, TransientError

_TRANSIENT = (
    ServiceBusConnectionError,
    ServiceBusCommunicationError,
    OperationTimeoutError,
    ServiceBusServerBusyError,
    ServiceBusQuotaExceededError,
    MessagingEntityDisabledError,
)


class ServiceBusEventBus:
    """Publishes envelopes to one Service Bus topic (see the module docstring).

    ``client`` is built elsewhere: ``ServiceBusClient(fully_qualified_namespace, DefaultAzureCredential())``;
    ``send_timeout`` bounds each batch send including the SDK's retries (None: the SDK's default).
    """

    def __init__(self, client: ServiceBusClient, topic: str, *, send_timeout: float | None = None) -> None:
        self._client = client
        self.topic = topic
        self._send_timeout = send_timeout
        self._lock = threading.Lock()
        self._sender: ServiceBusSender | None = None

    def publish(self, events: Sequence[Envelope]) -> None:
        """Publish in order, at least once; a re-published id is dropped as a duplicate downstream."""
        if not events:
            return
        what = f"publishing to Service Bus topic {self.topic!r}"
        with self._lock, _translated(what):
            if self._sender is None:
                self._sender = self._client.get_topic_sender(topic_name=self.topic)
            sender = self._sender
            for batch in self._pack(sender, events):
                sender.send_messages(batch, timeout=self._send_timeout)

    def close(self) -> None:
        """Close the sender (the client belongs to whoever built it); idempotent. A later publish reopens one."""
        with self._lock:
            sender, self._sender = self._sender, None
            if sender is not None:
                with _translated(f"closing the sender of Service Bus topic {self.topic!r}"):
                    sender.close()

    def _pack(self, sender: ServiceBusSender, events: Sequence[Envelope]) -> list[ServiceBusMessageBatch]:
        """The messages of ``events`` in order, in batches the sender accepts."""
        batches = [sender.create_message_batch()]
        for event in events:
            fields = envelope_to_message(event)
            try:
                message = service_bus_message(fields)
            except ValueError as error:  # e.g. an id over Service Bus's 128-character message_id limit
                raise PermanentError(
                    f"event {event.id!r} ({event.type}) cannot be a Service Bus message: {error}"
                ) from error
            try:
                batches[-1].add_message(message)
                continue
            except MessageSizeExceededError as error:
                if len(batches[-1]) == 0:
                    raise self._too_large(event, fields, batches[-1]) from error
            batch = sender.create_message_batch()
            try:
                batch.add_message(message)
            except MessageSizeExceededError as error:
                raise self._too_large(event, fields, batch) from error
            batches.append(batch)
        return batches

    def _too_large(self, event: Envelope, fields: MessageFields, batch: ServiceBusMessageBatch) -> PermanentError:
        return PermanentError(
            f"event {event.id} ({event.type}) is too large for Service Bus topic {self.topic!r}: "
            f"{len(fields.body)} bytes of body, the limit is {batch.max_size_in_bytes} bytes per batch; "
            "put less in its data (a reference instead of the payload); nothing of this publish was sent"
        )


def service_bus_message(fields: MessageFields) -> ServiceBusMessage:
    """The SDK message with the mapped fields."""
    return ServiceBusMessage(
        fields.body,
        message_id=fields.message_id,
        correlation_id=fields.correlation_id,
        subject=fields.subject,
        content_type=fields.content_type,
        # Built item by item: the SDK takes a dict of its own key and value types, and dict() would keep ours.
        application_properties={key: value for key, value in fields.application_properties.items()},
    )


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Re-raise Service Bus failures as the control plane's errors (the table in the module docstring)."""
    try:
        yield
    except (ServiceBusAuthenticationError, ServiceBusAuthorizationError, ClientAuthenticationError) as error:
        raise PermanentError(
            f"{what}: access denied ({error}); grant the control plane's identity "
            "Azure Service Bus Data Sender on the topic"
        ) from error
    except MessagingEntityNotFoundError as error:
        raise NotFound(f"{what}: the topic does not exist ({error}); create it or fix the topic name") from error
    except MessageSizeExceededError as error:
        raise PermanentError(f"{what}: {error}") from error
    except _TRANSIENT as error:
        raise TransientError(f"{what}: {error}") from error
    except ServiceBusError as error:
        # The SDK marks each error it raises retryable or not, by its AMQP condition; it has no public accessor.
        if getattr(error, "_retryable", False):
            raise TransientError(f"{what}: {error}") from error
        raise PermanentError(f"{what}: {error}") from error
    except AzureError as error:
        raise TransientError(f"{what}: {error}") from error
