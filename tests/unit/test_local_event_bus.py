"""The product's EventBus on the host's Service Bus emulator (``adapters.local.event_bus``): an envelope reaches
the event topic's subscriptions as the Service Bus adapter sends it (``adapters.azure.servicebus.mapping``).

The emulator's own rules (fan-out, duplicates, locks, dead letters) are tested in funchost/tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import azure.functions as func
import pytest

from controlplane.adapters.local.event_bus import TOPIC, LocalEventBus, envelope_message
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope, TraceContext, new_event
from controlplane.errors import TransientError
from funchost.functions import SERVICE_BUS, FunctionEntry
from funchost.servicebus.bus import LocalBus
from funchost.servicebus.records import DELIVERED
from funchost.storage.memory_tables import MemoryTables
from tests.builders import T0

TRACE = TraceContext(traceid="4bf92f3577b34da6a3ce929d0e0e4736", correlationid="dep-1")
SCALING = "events/Subscriptions/scaling"
AUDIT = "events/Subscriptions/audit"


def subscriber(subscription: str, received: list[func.ServiceBusMessage]) -> FunctionEntry:
    """A trigger on ``subscription`` of the event topic that appends what it gets to ``received``."""
    binding = {
        "type": SERVICE_BUS,
        "direction": "IN",
        "name": "msg",
        "connection": "ServiceBusConnection",
        "topicName": TOPIC,
        "subscriptionName": subscription,
    }
    return FunctionEntry(f"on_{subscription}", SERVICE_BUS, binding, (), received.append)


def invoke(entry: FunctionEntry, message: func.ServiceBusMessage) -> None:
    entry.handler(message)


def scaling_applied() -> Envelope:
    return new_event(
        EventType.SCALING_POLICY_APPLIED,
        event_id="00000000-0000-0000-0000-000000000001",
        source="/runtime-control-plane/scaling",
        time=T0 + timedelta(seconds=1),
        trace=TRACE,
        data={"environment": "dev", "service": "orders", "from": 2, "to": 4, "rule": "cpu"},
    )


def test_every_subscription_of_the_event_topic_gets_the_envelope_as_the_service_bus_adapter_sends_it() -> None:
    scaling: list[func.ServiceBusMessage] = []
    audit: list[func.ServiceBusMessage] = []
    bus = LocalBus(MemoryTables(), [subscriber("scaling", scaling), subscriber("audit", audit)], invoke)
    bus.create_tables()
    envelope = scaling_applied()
    LocalEventBus(bus).publish([envelope])
    assert bus.deliver_due() == 2
    bus.stop()
    for received in (scaling, audit):
        [message] = received
        assert message.message_id == envelope.id
        assert message.correlation_id == TRACE.traceid
        assert message.content_type == "application/cloudevents+json"
        assert message.subject == message.label == "ScalingPolicyApplied"
        assert message.application_properties == dict(envelope_message(envelope).application_properties)
        assert Envelope.from_json(message.get_body()) == envelope
    assert {d.subscription: d.state for d in bus.deliveries(envelope.id)} == {SCALING: DELIVERED, AUDIT: DELIVERED}
    [logged] = bus.events_for_trace(TRACE.traceid)
    assert logged.fields == envelope_message(envelope)


def test_the_fault_switch_fails_publishing_while_its_file_exists(tmp_path: Path) -> None:
    bus = LocalBus(MemoryTables(), [subscriber("audit", [])], invoke)
    bus.create_tables()
    switch = tmp_path / "bus-down"
    events = LocalEventBus(bus, fault_file=switch)
    switch.touch()
    with pytest.raises(TransientError, match="switched off"):
        events.publish([scaling_applied()])
    assert bus.events_for_trace(TRACE.traceid) == []
    switch.unlink()
    events.publish([scaling_applied()])
    assert len(bus.events_for_trace(TRACE.traceid)) == 1
