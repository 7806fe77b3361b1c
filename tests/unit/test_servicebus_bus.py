"""The Service Bus EventBus on the SDK's own in-memory objects: real messages and size-checked batches.

Service Bus speaks AMQP, so there is no HTTP stub: a recording sender stands in for ``ServiceBusSender``,
handing out real ``ServiceBusMessageBatch``es (the SDK's AMQP size accounting) and recording what is sent.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.servicebus import ServiceBusMessage, ServiceBusMessageBatch
from azure.servicebus.exceptions import (
    MessagingEntityDisabledError,
    MessagingEntityNotFoundError,
    OperationTimeoutError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusConnectionError,
    ServiceBusError,
    ServiceBusQuotaExceededError,
    ServiceBusServerBusyError,
)

from controlplane.adapters.azure.servicebus.event_bus import ServiceBusEventBus
from controlplane.adapters.azure.servicebus.mapping import message_to_envelope
from controlplane.domain.events import Envelope
from controlplane.errors import ControlPlaneError, NotFound, PermanentError, TransientError
from tests.contracts.event_bus import TRACE, EventBusContract, Published, applied

SMALL_BATCH = 4096  # bytes: a few events a batch, so ordering across batches is exercised


class RecordingSender:
    """Stands in for ``ServiceBusSender``: real batches of ``max_size_in_bytes``, sends recorded in order.

    ``failures`` are raised by the next calls of ``send_messages`` (or of ``create_message_batch`` when
    ``fail_on_create``); concurrent use is an error, since the real sender is not thread-safe.
    """

    def __init__(self, max_size_in_bytes: int = SMALL_BATCH) -> None:
        self.max_size_in_bytes = max_size_in_bytes
        self.sent: list[ServiceBusMessageBatch] = []
        self.timeouts: list[float | None] = []
        self.failures: list[Exception] = []
        self.fail_on_create = False
        self.closed = 0
        self._busy = threading.Lock()

    def create_message_batch(self, max_size_in_bytes: int | None = None) -> ServiceBusMessageBatch:
        if self.fail_on_create and self.failures:
            raise self.failures.pop(0)
        return ServiceBusMessageBatch(max_size_in_bytes=max_size_in_bytes or self.max_size_in_bytes)

    def send_messages(self, message: ServiceBusMessageBatch, *, timeout: float | None = None) -> None:
        if not self._busy.acquire(blocking=False):
            raise AssertionError("ServiceBusSender used by two threads at once")
        try:
            time.sleep(0.001)  # widen the window a concurrent caller would hit
            if self.failures and not self.fail_on_create:
                raise self.failures.pop(0)
            self.sent.append(message)
            self.timeouts.append(timeout)
        finally:
            self._busy.release()

    def close(self) -> None:
        self.closed += 1

    @property
    def messages(self) -> list[ServiceBusMessage]:
        # The batch keeps the ServiceBusMessage objects it encoded; the SDK has no public accessor for them.
        return [message for batch in self.sent for message in batch._messages]

    def envelopes(self) -> list[Envelope]:
        return [message_to_envelope(b"".join(m.body), m.content_type) for m in self.messages]


class RecordingClient:
    """Stands in for ``ServiceBusClient``: hands out senders and counts how many were asked for."""

    def __init__(self) -> None:
        self.senders: list[RecordingSender] = []
        self.topics: list[str] = []

    def get_topic_sender(self, topic_name: str, **_: Any) -> RecordingSender:
        self.topics.append(topic_name)
        self.senders.append(RecordingSender())
        return self.senders[-1]

    @property
    def sender(self) -> RecordingSender:
        return self.senders[-1]


@pytest.fixture
def client() -> RecordingClient:
    return RecordingClient()


@pytest.fixture
def bus(client: RecordingClient) -> ServiceBusEventBus:
    return ServiceBusEventBus(client, "events", send_timeout=30.0)  # type: ignore[arg-type]


class TestServiceBusEventBus(EventBusContract):
    @pytest.fixture
    def published(self, client: RecordingClient) -> Published:
        return lambda: client.sender.envelopes() if client.senders else []


def test_each_envelope_is_a_message_mapped_field_by_field(bus: ServiceBusEventBus, client: RecordingClient) -> None:
    event = applied(1)
    bus.publish([event])

    [message] = client.sender.messages
    assert message.message_id == event.id
    assert message.correlation_id == TRACE.traceid
    assert message.subject == "ScalingPolicyApplied"
    assert message.content_type == "application/cloudevents+json"
    assert message.application_properties == {
        "type": "ScalingPolicyApplied",
        "traceid": TRACE.traceid,
        "environment": "dev",
        "service": "orders",
    }
    assert b"".join(message.body) == event.to_json().encode("utf-8")
    assert message_to_envelope(b"".join(message.body), message.content_type) == event
    assert client.sender.timeouts == [30.0]


def test_a_full_batch_starts_the_next_and_order_holds_across_batches(
    bus: ServiceBusEventBus, client: RecordingClient
) -> None:
    events = [applied(number, padding="x" * 300) for number in range(1, 31)]

    bus.publish(events)

    sender = client.sender
    assert len(sender.sent) > 3
    assert all(len(batch) > 0 and batch.size_in_bytes <= SMALL_BATCH for batch in sender.sent)
    assert [message.message_id for message in sender.messages] == [event.id for event in events]


def test_an_event_too_large_for_any_batch_is_permanent_and_nothing_is_sent(
    bus: ServiceBusEventBus, client: RecordingClient
) -> None:
    huge = applied(2, padding="x" * SMALL_BATCH)

    with pytest.raises(PermanentError, match=rf"event {huge.id} \(ScalingPolicyApplied\) is too large") as raised:
        bus.publish([applied(1), huge, applied(3)])

    assert f"the limit is {SMALL_BATCH} bytes per batch" in str(raised.value)
    assert "nothing of this publish was sent" in str(raised.value)
    assert client.sender.sent == []


def test_an_oversized_first_event_is_refused_the_same_way(bus: ServiceBusEventBus, client: RecordingClient) -> None:
    with pytest.raises(PermanentError, match="too large"):
        bus.publish([applied(1, padding="x" * SMALL_BATCH)])
    assert client.sender.sent == []


def test_an_id_service_bus_cannot_carry_is_permanent_and_nothing_is_sent(
    bus: ServiceBusEventBus, client: RecordingClient
) -> None:
    long_id = replace(applied(2), id="x" * 129)

    with pytest.raises(
        PermanentError, match=r"event 'x{129}' \(ScalingPolicyApplied\) cannot be a Service Bus message"
    ):
        bus.publish([applied(1), long_id])

    assert client.sender.sent == []


def test_one_sender_is_kept_and_never_used_by_two_threads_at_once(
    bus: ServiceBusEventBus, client: RecordingClient
) -> None:
    def publish_four(first: int) -> None:
        for number in range(first, first + 4):
            bus.publish([applied(number)])

    threads = [threading.Thread(target=publish_four, args=(first,)) for first in range(1, 33, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert client.topics == ["events"]
    ids = [message.message_id for message in client.sender.messages]
    assert sorted(ids) == sorted(applied(number).id for number in range(1, 33))
    for first in range(1, 33, 4):  # each thread's publishes in its order
        own = [applied(number).id for number in range(first, first + 4)]
        assert [i for i in ids if i in own] == own


def test_publishing_nothing_opens_no_sender(bus: ServiceBusEventBus, client: RecordingClient) -> None:
    bus.publish([])
    assert client.senders == []


@pytest.mark.parametrize(
    ("error", "raised", "says"),
    [
        (ServiceBusConnectionError(message="connection lost"), TransientError, "connection lost"),
        (ServiceBusError("the link detached", retryable=True), TransientError, "the link detached"),
        (OperationTimeoutError(message="send timed out"), TransientError, "send timed out"),
        (ServiceBusServerBusyError(message="server busy"), TransientError, "server busy"),
        (ServiceBusQuotaExceededError(message="topic full"), TransientError, "topic full"),
        (MessagingEntityDisabledError(message="disabled"), TransientError, "disabled"),
        (MessagingEntityNotFoundError(message="no such entity"), NotFound, "create it or fix the topic name"),
        (ServiceBusAuthenticationError(message="bad token"), PermanentError, "Azure Service Bus Data Sender"),
        (ServiceBusAuthorizationError(message="not allowed"), PermanentError, "Azure Service Bus Data Sender"),
        (ClientAuthenticationError("no managed identity"), PermanentError, "Azure Service Bus Data Sender"),
        (ServiceBusError("unexpected condition"), PermanentError, "unexpected condition"),
    ],
)
def test_service_bus_errors_are_translated(
    bus: ServiceBusEventBus,
    client: RecordingClient,
    error: Exception,
    raised: type[ControlPlaneError],
    says: str,
) -> None:
    bus.publish([applied(1)])  # opens the sender
    client.sender.failures.append(error)

    with pytest.raises(raised, match="publishing to Service Bus topic 'events'") as caught:
        bus.publish([applied(2)])

    assert says in str(caught.value)
    assert caught.value.__cause__ is error


def test_a_failure_opening_the_link_is_translated_too(bus: ServiceBusEventBus, client: RecordingClient) -> None:
    bus.publish([applied(1)])
    client.sender.fail_on_create = True
    client.sender.failures.append(MessagingEntityNotFoundError(message="topic 'events' was deleted"))

    with pytest.raises(NotFound, match="deleted"):
        bus.publish([applied(2)])


def test_after_a_transient_failure_publishing_again_sends_again_on_the_same_sender(
    bus: ServiceBusEventBus, client: RecordingClient
) -> None:
    bus.publish([applied(1)])
    client.sender.failures.append(ServiceBusConnectionError(message="connection lost"))
    with pytest.raises(TransientError):
        bus.publish([applied(2), applied(3)])

    bus.publish([applied(2), applied(3)])

    assert client.topics == ["events"]
    assert client.sender.envelopes() == [applied(1), applied(2), applied(3)]


def test_close_closes_the_sender_and_a_later_publish_opens_a_new_one(
    bus: ServiceBusEventBus, client: RecordingClient
) -> None:
    bus.publish([applied(1)])
    first = client.sender

    bus.close()
    bus.close()
    bus.publish([applied(2)])

    assert first.closed == 1
    assert client.topics == ["events", "events"]
    assert client.sender is not first
    assert client.sender.envelopes() == [applied(2)]
