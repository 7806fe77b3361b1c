"""The local bus on a real Azurite Table service: what the embedded host runs on."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from funchost.azurite import Azurite
from funchost.servicebus.bus import LocalBus
from funchost.servicebus.message import Message
from funchost.servicebus.options import ServiceBusOptions
from funchost.servicebus.records import DELIVERED
from funchost.storage.azure_tables import AzureTables
from funchost.tests.unit.test_local_bus import (
    AUDIT,
    SCALING,
    T0,
    TOPIC,
    TRACE,
    FakeClock,
    Held,
    Recorder,
    audit_completed,
    event,
    invoke,
    subscriber,
)

pytestmark = pytest.mark.azurite


def make_bus(azurite: Azurite, prefix: str, scaling: Recorder, audit: Recorder, **options: Any) -> LocalBus:
    tables = AzureTables(TableServiceClient.from_connection_string(azurite.connection_string), prefix)
    functions = [
        subscriber("on_scaling", scaling, topicName="events", subscriptionName="scaling"),
        subscriber("on_audit", audit, topicName="events", subscriptionName="audit"),
    ]
    bus = LocalBus(tables, functions, invoke, **{"clock": lambda: T0, **options})
    bus.create_tables()
    return bus


def drain(bus: LocalBus) -> None:
    while bus.deliver_due():
        pass


def test_publish_deliver_and_dead_letter_on_azurite(azurite: Azurite, table_prefix: str) -> None:
    scaling, broken = Recorder(), Recorder(failures=1000)
    bus = make_bus(azurite, table_prefix, scaling, broken, max_delivery_count=3)
    bus.publish([event(1), event(2)], to=TOPIC)
    bus.publish([event(1)], to=TOPIC)  # a duplicate
    bus.publish([Message("bad-1", TRACE, "X", "text/plain", {}, b"hello")], to=TOPIC)
    drain(bus)
    bus.stop()

    assert sorted(scaling.ids) == [event(1).message_id, event(2).message_id, "bad-1"]  # any body reaches the function
    tries = [(message.message_id, message.delivery_count) for message in broken.messages]
    assert sorted(tries) == [(event(n).message_id, count) for n in (1, 2) for count in (1, 2, 3)] + [
        ("bad-1", c) for c in (1, 2, 3)
    ]
    dead = {(d.subscription, d.message_id): d for d in bus.dead_letters()}
    assert set(dead) == {(AUDIT, event(1).message_id), (AUDIT, event(2).message_id), (AUDIT, "bad-1")}
    letter = dead[(AUDIT, event(1).message_id)]
    assert (letter.reason, letter.description, letter.delivery_count) == (
        "MaxDeliveryCountExceeded",
        "Message couldn't be consumed after maximum delivery attempts.",
        3,
    )
    assert letter.last_error is not None and letter.last_error.startswith("ValueError: boom")
    logged = bus.events_for_trace(TRACE)
    assert [message.fields.message_id for message in logged] == [event(1).message_id, event(2).message_id, "bad-1"]
    assert logged[0].fields == event(1)


def test_a_restarted_bus_delivers_pending_and_claims_are_exclusive(azurite: Azurite, table_prefix: str) -> None:
    scaling, audit = Recorder(), Recorder()
    publisher = make_bus(azurite, table_prefix, scaling, audit)
    publisher.publish([event(number) for number in range(1, 11)], to=TOPIC)
    first, second = (make_bus(azurite, table_prefix, scaling, audit) for _ in range(2))
    threads = [threading.Thread(target=drain, args=(bus,)) for bus in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for bus in (publisher, first, second):
        bus.stop()
    expected = sorted(event(number).message_id for number in range(1, 11))
    assert sorted(scaling.ids) == sorted(audit.ids) == expected
    assert {d.state for d in first.deliveries(event(5).message_id)} == {DELIVERED}


def test_the_dispatcher_thread_delivers_on_azurite(azurite: Azurite, table_prefix: str) -> None:
    arrived = threading.Event()
    bus = make_bus(azurite, table_prefix, Recorder(during=arrived.set), Recorder(), poll_interval=30.0)
    bus.start()
    bus.publish([event(1)], to=TOPIC)
    assert arrived.wait(10)
    bus.stop()


def test_a_renewed_lock_holds_off_another_host_until_the_renewal_limit_on_azurite(
    azurite: Azurite, table_prefix: str
) -> None:
    clock, held, taken_over = FakeClock(T0), Held(), Recorder()
    options = ServiceBusOptions(max_concurrent_calls=1, max_auto_lock_renewal=timedelta(minutes=2))
    first = make_bus(azurite, table_prefix, held, Recorder(), clock=clock, options=options)
    second = make_bus(azurite, table_prefix, taken_over, Recorder(), clock=clock)
    first.publish([event(1)], to=TOPIC)
    running = threading.Thread(target=first.deliver_due)
    running.start()
    held.wait_calls(1)
    audit_completed(first, event(1).message_id)
    assert [first.renew_locks(clock.at(seconds)) for seconds in (50, 100, 150)] == [1, 1, 0]  # locked until 160 s
    assert second.deliver_due(clock.at(159)) == 0
    assert second.deliver_due(clock.at(160)) == 1
    held.release(0)  # the first host's function returns after its lock expired: its completion is dropped
    running.join()
    [delivery] = [d for d in second.deliveries(event(1).message_id) if d.subscription == SCALING]
    assert (delivery.state, delivery.delivery_count) == (DELIVERED, 2)
    assert [message.delivery_count for message in taken_over.messages] == [2]
    first.stop()
    second.stop()
