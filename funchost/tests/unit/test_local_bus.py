"""The local bus on in-memory tables: fan-out, duplicate detection, concurrency, redelivery, dead letters, restarts.

The Service Bus rules it follows: the extension's message pump (Azure/azure-sdk-for-net,
sdk/servicebus/Microsoft.Azure.WebJobs.Extensions.ServiceBus/src: Config/ServiceBusOptions.cs for
maxConcurrentCalls, autoCompleteMessages and maxAutoLockRenewalDuration, Primitives/MessageProcessor.cs for
abandon-on-failure), the processor's lock renewal (sdk/servicebus/Azure.Messaging.ServiceBus/src/Processor/
ReceiverManager.cs) and the broker's dead-lettering ("Overview of Service Bus dead-letter queues":
MaxDeliveryCountExceeded). Lock tests drive a fake clock: no assertion depends on how long anything takes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

from funchost.errors import InvalidInput, NotFound, TransientError
from funchost.function_checks import FunctionAppRefused
from funchost.functions import SERVICE_BUS, FunctionEntry
from funchost.servicebus.bus import DEFAULT_LOCK_DURATION, LocalBus
from funchost.servicebus.filters import UnsupportedFilter
from funchost.servicebus.locks import renewal_due
from funchost.servicebus.message import Message
from funchost.servicebus.options import ServiceBusOptions
from funchost.servicebus.processor import MAX_DELIVERIES_DESCRIPTION
from funchost.servicebus.records import DEADLETTERED, DELIVERED, DELIVERIES, LOG, PENDING, Delivery
from funchost.storage.memory_tables import MemoryTables
from funchost.storage.tables import Entity

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
TOPIC = "events"
SCALING = "events/Subscriptions/scaling"
AUDIT = "events/Subscriptions/audit"


class Recorder:
    """A Service Bus trigger function that records its messages and fails its first ``failures`` calls."""

    def __init__(self, failures: int = 0, during: Callable[[], None] | None = None) -> None:
        self.messages: list[func.ServiceBusMessage] = []
        self.failures = failures
        self.during = during
        self._lock = threading.Lock()

    def __call__(self, msg: func.ServiceBusMessage) -> None:
        with self._lock:
            self.messages.append(msg)
            failing = len(self.messages) <= self.failures
        if self.during is not None:
            self.during()
        if failing:
            raise ValueError(f"boom {len(self.messages)}")

    @property
    def ids(self) -> list[str]:
        return [message.message_id for message in self.messages]


def subscriber(name: str, handler: Callable[..., Any], **trigger: str) -> FunctionEntry:
    binding = {"type": SERVICE_BUS, "direction": "IN", "name": "msg", "connection": "ServiceBusConnection", **trigger}
    return FunctionEntry(name=name, trigger_type=SERVICE_BUS, trigger=binding, inputs=(), handler=handler)


def invoke(entry: FunctionEntry, message: func.ServiceBusMessage) -> None:
    entry.handler(**{entry.trigger_name: message})


def event(number: int, trace: str = TRACE) -> Message:
    """Message ``number`` of trace ``trace``, a ScalingPolicyApplied as any producer might send one (the bus does
    not read bodies)."""
    body = {"number": number, "environment": "dev", "service": "orders", "from": 2, "to": 4, "rule": "cpu"}
    properties = {"type": "ScalingPolicyApplied", "source": "/scaling"}
    return Message(
        f"00000000-0000-0000-0000-{number:012d}",
        trace,
        "ScalingPolicyApplied",
        "application/json",
        properties,
        json.dumps(body).encode(),
    )


@pytest.fixture
def tables() -> MemoryTables:
    return MemoryTables()


@pytest.fixture
def scaling() -> Recorder:
    return Recorder()


@pytest.fixture
def audit() -> Recorder:
    return Recorder()


def make_bus(tables: MemoryTables, scaling: Recorder, audit: Recorder, **options: Any) -> LocalBus:
    functions = [
        subscriber("on_scaling", scaling, topicName="events", subscriptionName="scaling"),
        subscriber("on_audit", audit, topicName="%EventsTopic%", subscriptionName="audit"),
    ]
    options = {"clock": lambda: T0, "app_settings": {"EventsTopic": "events"}, **options}
    bus = LocalBus(tables, functions, options.pop("invoke", invoke), **options)
    bus.create_tables()
    return bus


@pytest.fixture
def bus(tables: MemoryTables, scaling: Recorder, audit: Recorder):
    bus = make_bus(tables, scaling, audit)
    yield bus
    bus.stop()


def drain(bus: LocalBus, now=T0) -> int:
    """Deliver until nothing is due; return the number of passes that handled something."""
    passes = 0
    while bus.deliver_due(now):
        passes += 1
    return passes


def test_every_subscription_of_the_topic_gets_the_message_as_a_service_bus_message(
    bus: LocalBus, scaling: Recorder, audit: Recorder
) -> None:
    sent = event(1)
    bus.publish([sent], to=TOPIC)
    assert bus.deliver_due() == 2
    for recorder in (scaling, audit):
        [message] = recorder.messages
        assert isinstance(message, func.ServiceBusMessage)
        assert message.message_id == sent.message_id
        assert message.correlation_id == TRACE
        assert message.content_type == sent.content_type
        assert message.subject == message.label == "ScalingPolicyApplied"
        assert message.application_properties == dict(sent.application_properties)
        assert message.user_properties == message.application_properties
        assert message.delivery_count == 1
        assert message.enqueued_time_utc == T0
        assert message.sequence_number == 1
        assert message.get_body() == sent.body
    assert {d.subscription: d.state for d in bus.deliveries(sent.message_id)} == {SCALING: DELIVERED, AUDIT: DELIVERED}


def test_a_republished_id_is_dropped_before_and_after_delivery(bus: LocalBus, scaling: Recorder) -> None:
    bus.publish([event(1)], to=TOPIC)
    bus.publish([event(1)], to=TOPIC)
    drain(bus)
    bus.publish([event(1), event(2)], to=TOPIC)
    drain(bus)
    assert scaling.ids == [event(1).message_id, event(2).message_id]
    assert [message.fields.message_id for message in bus.events_for_trace(TRACE)] == [
        event(1).message_id,
        event(2).message_id,
    ]


class CrashingTables(MemoryTables):
    """Memory tables whose next delivery-record insert fails, as if the publisher died after the log write."""

    crash_next_delivery = True

    def insert(self, table: str, document: Entity) -> str:
        if table == DELIVERIES and self.crash_next_delivery:
            self.crash_next_delivery = False
            raise TransientError("connection reset")
        return super().insert(table, document)


def test_a_retried_publish_after_a_crash_between_writes_delivers_exactly_once(
    scaling: Recorder, audit: Recorder
) -> None:
    tables = CrashingTables()
    bus = make_bus(tables, scaling, audit)
    with pytest.raises(TransientError):
        bus.publish([event(1)], to=TOPIC)
    bus.publish([event(1)], to=TOPIC)
    bus.publish([event(1)], to=TOPIC)
    drain(bus)
    assert scaling.ids == audit.ids == [event(1).message_id]
    bus.stop()


def test_a_failing_function_is_retried_and_sees_the_delivery_count(tables, audit: Recorder) -> None:
    flaky = Recorder(failures=2)
    bus = make_bus(tables, flaky, audit)
    bus.publish([event(1)], to=TOPIC)
    assert drain(bus) == 3
    assert [message.delivery_count for message in flaky.messages] == [1, 2, 3]
    [delivery] = [d for d in bus.deliveries(event(1).message_id) if d.subscription == SCALING]
    assert (delivery.state, delivery.delivery_count, delivery.last_error) == (DELIVERED, 3, "ValueError: boom 2")
    assert len(audit.messages) == 1
    bus.stop()


def test_an_abandoned_message_is_due_again_at_once(tables, audit: Recorder) -> None:
    flaky = Recorder(failures=1)
    bus = make_bus(tables, flaky, audit)
    bus.publish([event(1)], to=TOPIC)
    assert bus.deliver_due(T0) == 2  # the failure abandons it ...
    assert bus.deliver_due(T0) == 1  # ... and the same instant it is delivered again
    assert [message.delivery_count for message in flaky.messages] == [1, 2]
    bus.stop()


def test_after_ten_failures_the_delivery_is_dead_lettered_with_the_error(tables, audit: Recorder) -> None:
    broken = Recorder(failures=1000)
    bus = make_bus(tables, broken, audit)
    bus.publish([event(1)], to=TOPIC)
    drain(bus)
    assert len(broken.messages) == 10
    [dead] = bus.dead_letters()
    assert (dead.subscription, dead.message_id, dead.type, dead.delivery_count) == (
        SCALING,
        event(1).message_id,
        "ScalingPolicyApplied",
        10,
    )
    assert (dead.state, dead.reason, dead.description) == (
        DEADLETTERED,
        "MaxDeliveryCountExceeded",
        "Message couldn't be consumed after maximum delivery attempts.",
    )
    assert dead.last_error == "ValueError: boom 10"
    assert len(audit.messages) == 1
    bus.stop()


def test_any_body_reaches_the_function_json_or_not(bus: LocalBus, scaling: Recorder, audit: Recorder) -> None:
    bus.publish([Message("bad-1", TRACE, "X", "application/json", {}, b"{}")], to=TOPIC)
    bus.publish([Message("bad-2", TRACE, "X", "application/cloudevents+json", {}, b"\xff not json")], to=TOPIC)
    drain(bus)
    for recorder in (scaling, audit):
        assert sorted((m.message_id, m.content_type, m.get_body()) for m in recorder.messages) == [
            ("bad-1", "application/json", b"{}"),
            ("bad-2", "application/cloudevents+json", b"\xff not json"),
        ]
    assert bus.dead_letters() == []
    assert [m.fields.body for m in bus.events_for_trace(TRACE)] == [b"{}", b"\xff not json"]


def test_a_new_bus_over_the_same_tables_delivers_what_was_pending(tables, scaling: Recorder, audit: Recorder) -> None:
    publisher = make_bus(tables, scaling, audit, invoke=None)
    publisher.publish([event(1), event(2)], to=TOPIC)
    restarted = make_bus(tables, scaling, audit)
    assert restarted.deliver_due() == 4
    assert (
        sorted(scaling.ids) == sorted(audit.ids) == [event(1).message_id, event(2).message_id]
    )  # concurrent: in no set order
    restarted.stop()


def host_exits() -> None:
    raise SystemExit(1)  # the host process ends in the middle of the function: nothing settles the message


def test_a_delivery_whose_host_died_comes_back_one_lock_duration_after_its_claim(
    tables, scaling: Recorder, audit: Recorder
) -> None:
    dying = make_bus(tables, Recorder(during=host_exits), audit)  # the subscriptions' lock: 1 minute
    dying.publish([event(1)], to=TOPIC)
    with pytest.raises(SystemExit):
        dying.deliver_due(T0)
    restarted = make_bus(tables, scaling, audit)
    restarted.deliver_due(T0 + DEFAULT_LOCK_DURATION - timedelta(seconds=1))
    assert scaling.messages == []  # still locked by the dead host
    restarted.deliver_due(T0 + DEFAULT_LOCK_DURATION)
    assert [message.delivery_count for message in scaling.messages] == [2]
    assert timedelta(minutes=1) == DEFAULT_LOCK_DURATION  # Service Bus's default LockDuration (PT1M)
    restarted.stop()


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


class Held:
    """A trigger function whose every call waits until the test releases it (by call number, from 0)."""

    def __init__(self) -> None:
        self.messages: list[func.ServiceBusMessage] = []
        self._releases: list[threading.Event] = []
        self._changed = threading.Condition()

    def __call__(self, msg: func.ServiceBusMessage) -> None:
        release = threading.Event()
        with self._changed:
            self.messages.append(msg)
            self._releases.append(release)
            self._changed.notify_all()
        assert release.wait(10), "never released"

    def wait_calls(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.messages) >= count, 10), f"{count} calls never came"

    def release(self, call: int) -> None:
        self._releases[call].set()


def stored(tables: MemoryTables, message_id: str) -> Delivery:
    return Delivery.from_entity(tables.get(DELIVERIES, SCALING, message_id))


def audit_completed(bus: LocalBus, message_id: str) -> None:
    """Wait until the audit subscription's delivery, which runs beside a held one, is completed (within its first
    lock): from then on only the held delivery has a lock, and a test may move the clock."""
    wait_until(lambda: any(d.subscription == AUDIT and d.state == DELIVERED for d in bus.deliveries(message_id)))


@pytest.mark.parametrize(("lock", "renewed_after"), [(60, 50), (300, 290), (10, 5), (5, 2.5)])
def test_a_lock_is_renewed_half_its_duration_but_at_most_10_seconds_before_it_expires(
    lock: int, renewed_after: float
) -> None:
    """ReceiverManager.CalculateRenewDelay: buffer = min(remaining / 2, MaximumRenewBufferDuration = 10 s)."""
    assert renewal_due(T0, T0 + timedelta(seconds=lock)) == T0 + timedelta(seconds=renewed_after)


def test_a_running_delivery_stays_locked_while_the_processor_renews_its_lock(tables, audit: Recorder) -> None:
    clock, held = FakeClock(T0), Held()
    bus = make_bus(tables, held, audit, clock=clock)  # lock 1 min, renewed up to 5 min (the extension's default)
    bus.publish([event(1)], to=TOPIC)
    running = threading.Thread(target=bus.deliver_due)
    running.start()
    held.wait_calls(1)
    audit_completed(bus, event(1).message_id)
    assert bus.renew_locks(clock.at(49)) == 0  # due 10 s before the lock expires
    for seconds in (50, 100, 150, 200, 250):
        assert bus.renew_locks(clock.at(seconds)) == 1
        assert stored(tables, event(1).message_id).next_attempt == T0 + timedelta(seconds=seconds + 60)
    other_host = make_bus(tables, Recorder(), Recorder(), clock=clock)
    assert other_host.deliver_due(clock.at(309)) == 0  # four minutes past the first lock's expiry, still locked
    held.release(0)
    running.join()
    delivery = stored(tables, event(1).message_id)
    assert (delivery.state, delivery.delivery_count, len(held.messages)) == (DELIVERED, 1, 1)
    bus.stop()


def test_past_max_auto_lock_renewal_duration_the_message_is_delivered_again_and_the_late_completion_dropped(
    tables, audit: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    clock, held = FakeClock(T0), Held()
    options = ServiceBusOptions(max_concurrent_calls=2, max_auto_lock_renewal=timedelta(minutes=2))
    bus = make_bus(tables, held, audit, clock=clock, options=options)
    bus.publish([event(1)], to=TOPIC)
    first = threading.Thread(target=bus.deliver_due)
    first.start()
    held.wait_calls(1)
    audit_completed(bus, event(1).message_id)
    assert [bus.renew_locks(clock.at(seconds)) for seconds in (50, 100, 150)] == [1, 1, 0]  # 150 s: past 2 min
    assert bus.deliver_due(clock.at(159)) == 0
    second = threading.Thread(target=bus.deliver_due, args=(clock.at(160),))  # the lock expired: due again
    second.start()
    held.wait_calls(2)
    assert [message.delivery_count for message in held.messages] == [1, 2]  # while the first call still runs
    held.release(0)  # the first call returns now, its lock long gone: its completion fails with MessageLockLost
    first.join()
    delivery = stored(tables, event(1).message_id)
    assert (delivery.state, delivery.delivery_count) == (PENDING, 2)  # the second delivery's, still locked
    assert delivery.next_attempt == T0 + timedelta(seconds=160) + DEFAULT_LOCK_DURATION
    assert "MessageLockLost" in caplog.text
    held.release(1)
    second.join()
    assert (stored(tables, event(1).message_id).state, stored(tables, event(1).message_id).delivery_count) == (
        DELIVERED,
        2,
    )
    bus.stop()


def test_max_auto_lock_renewal_duration_zero_never_renews(tables, audit: Recorder) -> None:
    clock, held = FakeClock(T0), Held()
    options = ServiceBusOptions(max_concurrent_calls=2, max_auto_lock_renewal=timedelta(0))
    bus = make_bus(tables, held, audit, clock=clock, options=options)
    bus.publish([event(1)], to=TOPIC)
    running = threading.Thread(target=bus.deliver_due)
    running.start()
    held.wait_calls(1)
    assert bus.renew_locks(clock.at(50)) == 0
    held.release(0)
    running.join()
    assert stored(tables, event(1).message_id).state == DELIVERED  # returned within its first lock: completed
    bus.stop()


def test_the_dispatcher_renews_the_locks_of_running_deliveries(tables, audit: Recorder) -> None:
    clock, held = FakeClock(T0), Held()
    bus = make_bus(tables, held, audit, clock=clock, poll_interval=60.0)
    bus.start()
    bus.publish([event(1)], to=TOPIC)
    held.wait_calls(1)
    clock.at(50)
    bus.publish([event(2)], to=TOPIC)  # wakes the dispatcher, whose pass renews what is due
    wait_until(lambda: stored(tables, event(1).message_id).next_attempt == T0 + timedelta(seconds=110))
    held.wait_calls(2)
    held.release(0)
    held.release(1)
    bus.stop()


def test_two_dispatchers_never_run_one_delivery_twice(tables, audit: Recorder) -> None:
    slow = Recorder(during=lambda: time.sleep(0.01))
    first, second = make_bus(tables, slow, audit), make_bus(tables, slow, audit)
    first.publish([event(number) for number in range(1, 21)], to=TOPIC)
    threads = [threading.Thread(target=drain, args=(b,)) for b in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(slow.ids) == sorted(event(number).message_id for number in range(1, 21))
    assert len(audit.ids) == 20
    first.stop()
    second.stop()


def test_subscriptions_are_delivered_in_parallel(tables) -> None:
    audit_ran = threading.Event()
    scaling = Recorder(during=lambda: audit_ran.wait(5))
    bus = make_bus(tables, scaling, Recorder(during=audit_ran.set))
    bus.publish([event(1)], to=TOPIC)
    started = time.monotonic()
    assert bus.deliver_due() == 2
    assert time.monotonic() - started < 4
    bus.stop()


class Gate:
    """A trigger function that counts the calls running at once and holds each until ``release``."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.ids: list[str] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def __call__(self, msg: func.ServiceBusMessage) -> None:
        with self._changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self.ids.append(msg.message_id)
            self._changed.notify_all()
        assert self.released.wait(10), "never released"
        with self._changed:
            self.running -= 1

    def wait_running(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.running >= count, 10), f"{count} calls never ran at once"


def test_up_to_max_concurrent_calls_deliveries_of_one_subscription_run_at_once(tables, audit: Recorder) -> None:
    gate = Gate()
    bus = make_bus(tables, gate, audit, options=ServiceBusOptions(max_concurrent_calls=3))
    bus.publish([event(number) for number in range(1, 6)], to=TOPIC)
    first_pass = threading.Thread(target=bus.deliver_due)
    first_pass.start()
    try:
        gate.wait_running(3)
        bus.deliver_due()  # another pass: scaling's three call slots are all taken
        assert len(gate.ids) == 3
    finally:
        gate.released.set()
    first_pass.join()
    drain(bus)
    assert gate.most == 3
    assert sorted(gate.ids) == sorted(event(number).message_id for number in range(1, 6))
    assert len(audit.ids) == 5
    bus.stop()


def test_max_concurrent_calls_1_delivers_one_at_a_time(tables, audit: Recorder) -> None:
    gate = Gate()
    gate.released.set()
    bus = make_bus(tables, gate, audit, options=ServiceBusOptions(max_concurrent_calls=1))
    bus.publish([event(number) for number in range(1, 6)], to=TOPIC)
    bus.start()
    wait_until(lambda: len(gate.ids) == 5 and all(d.state == DELIVERED for d in bus.deliveries(event(5).message_id)))
    bus.stop()
    assert gate.most == 1


def test_without_auto_complete_a_message_comes_back_when_its_lock_expires(tables, audit: Recorder) -> None:
    lock = timedelta(minutes=5)
    handled = Recorder()
    options = ServiceBusOptions(max_concurrent_calls=4, auto_complete_messages=False)
    bus = make_bus(tables, handled, audit, options=options, max_delivery_count=2, lock_duration=lock)
    bus.publish([event(1)], to=TOPIC)
    bus.deliver_due(T0)
    assert bus.deliver_due(T0) == 0  # not completed, not abandoned: still locked
    bus.deliver_due(T0 + lock)
    bus.deliver_due(T0 + 2 * lock)
    assert [message.delivery_count for message in handled.messages] == [1, 2]
    [dead] = [d for d in bus.dead_letters() if d.subscription == SCALING]
    assert (dead.reason, dead.description) == ("MaxDeliveryCountExceeded", MAX_DELIVERIES_DESCRIPTION)
    bus.stop()


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_the_dispatcher_delivers_as_soon_as_something_is_published(tables, audit: Recorder) -> None:
    arrived = threading.Event()
    bus = make_bus(tables, Recorder(during=arrived.set), audit, poll_interval=60.0)
    bus.start()
    time.sleep(0.05)  # the first pass found nothing; only the wake-up can bring the event
    bus.publish([event(1)], to=TOPIC)
    assert arrived.wait(5)
    bus.stop()
    assert bus.deliveries(event(1).message_id)[0].state == DELIVERED


def test_the_dispatcher_retries_until_delivered(tables, audit: Recorder) -> None:
    flaky = Recorder(failures=3)
    bus = make_bus(tables, flaky, audit, poll_interval=60.0)
    bus.start()
    bus.publish([event(1)], to=TOPIC)
    deadline = time.monotonic() + 5
    while len(flaky.messages) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    bus.stop()
    assert [message.delivery_count for message in flaky.messages] == [1, 2, 3, 4]


def test_events_of_a_trace_come_in_enqueue_order(bus: LocalBus) -> None:
    bus.publish([event(3), event(1)], to=TOPIC)
    bus.publish([event(9, OTHER_TRACE)], to=TOPIC)
    bus.publish([event(2)], to=TOPIC)
    logged = bus.events_for_trace(TRACE)
    assert [message.fields.message_id for message in logged] == [
        event(3).message_id,
        event(1).message_id,
        event(2).message_id,
    ]
    assert [message.sequence for message in logged] == [1, 2, 4]
    assert logged[0].to_dict()["subscriptions"] == [SCALING, AUDIT]


def test_a_subscription_with_a_sql_filter_gets_only_the_messages_it_accepts(tables, audit: Recorder) -> None:
    scaling = Recorder()
    bus = make_bus(tables, scaling, audit, filters={SCALING: "type = 'HealthCheckCompleted'"})
    health = replace(event(1), application_properties={"type": "HealthCheckCompleted"})
    bus.publish([event(2)], to=TOPIC)  # a ScalingPolicyApplied
    bus.publish([health], to=TOPIC)
    drain(bus)
    assert scaling.ids == [health.message_id]
    assert sorted(audit.ids) == sorted([health.message_id, event(2).message_id])  # no rule: Service Bus's TrueFilter
    assert bus.deliveries(event(2).message_id)[0].subscription == AUDIT
    bus.stop()


def test_a_rule_declared_at_start_up_filters_what_is_sent_to_the_topic(tables, audit: Recorder) -> None:
    scaling = Recorder()
    bus = make_bus(tables, scaling, audit)
    bus.add_subscription_rule("events", "scaling", "type = 'HealthCheckCompleted'")
    health = replace(event(1), application_properties={"type": "HealthCheckCompleted"})
    bus.send("events", [event(2), health])
    drain(bus)
    assert scaling.ids == [health.message_id]
    assert sorted(audit.ids) == sorted([health.message_id, event(2).message_id])
    bus.stop()


def test_a_rule_the_bus_cannot_evaluate_is_refused_naming_the_subscription(bus: LocalBus) -> None:
    with pytest.raises(UnsupportedFilter, match=r"subscription events/Subscriptions/scaling: "):
        bus.add_subscription_rule("events", "scaling", "type LIKE 'Health%'")


def test_a_queue_trigger_gets_only_what_is_sent_to_its_queue(tables, scaling: Recorder, audit: Recorder) -> None:
    commands = Recorder()
    functions = [
        subscriber("on_scaling", scaling, topicName="events", subscriptionName="scaling"),
        subscriber("on_command", commands, queueName="commands"),
    ]
    bus = LocalBus(tables, functions, invoke, clock=lambda: T0)
    bus.create_tables()
    bus.publish([event(1)], to="commands")
    bus.deliver_due()
    assert (commands.ids, scaling.ids) == ([event(1).message_id], [])
    assert [d.subscription for d in bus.deliveries(event(1).message_id)] == ["commands"]
    bus.stop()


def test_publishing_to_an_unknown_entity_names_the_known_ones(bus: LocalBus) -> None:
    with pytest.raises(NotFound, match="no topic or queue named 'evnets' \\(known: events\\)"):
        bus.publish([event(1)], to="evnets")


def test_a_message_without_an_id_is_refused_and_nothing_is_written(bus: LocalBus, tables) -> None:
    good = event(1)
    with pytest.raises(InvalidInput, match=r"messages\[1\].message_id"):
        bus.publish([good, replace(good, message_id="")], to=TOPIC)
    assert list(tables.query(LOG)) == []


def test_two_functions_on_one_subscription_are_refused(tables, scaling: Recorder) -> None:
    functions = [
        subscriber("a", scaling, topicName="events", subscriptionName="scaling"),
        subscriber("b", scaling, topicName="events", subscriptionName="scaling"),
    ]
    with pytest.raises(ValueError, match="a and b both listen on events/Subscriptions/scaling"):
        LocalBus(tables, functions, invoke)


@pytest.mark.parametrize(
    ("subscription", "settings", "path"),
    [
        ("%SCALING_SUBSCRIPTION%", {"SCALING_SUBSCRIPTION": "scaling"}, "events/Subscriptions/scaling"),
        ("%scaling_subscription%", {"SCALING_SUBSCRIPTION": "scaling"}, "events/Subscriptions/scaling"),
        ("%Bus:Subscription%", {"Bus__Subscription": "scaling"}, "events/Subscriptions/scaling"),
        ("%REGION%-scaling", {"REGION": "weu"}, "events/Subscriptions/weu-scaling"),
    ],
)
def test_entity_names_resolve_app_settings_as_the_host_does(
    tables, scaling: Recorder, subscription: str, settings: dict[str, str], path: str
) -> None:
    functions = [subscriber("a", scaling, topicName="events", subscriptionName=subscription)]
    bus = LocalBus(tables, functions, invoke, app_settings=settings)
    assert [s.path for s in bus.subscriptions] == [path]


@pytest.mark.parametrize(
    ("subscription", "reason"),
    [
        ("%MISSING%", "'%MISSING%' does not resolve to a value."),
        ("50%-scaling", "The '%' at position 2 does not have a closing '%'"),
    ],
)
def test_an_unresolvable_entity_name_is_refused_with_the_hosts_indexing_error(
    tables, scaling: Recorder, subscription: str, reason: str
) -> None:
    functions = [subscriber("a", scaling, topicName="events", subscriptionName=subscription)]
    with pytest.raises(FunctionAppRefused) as refused:
        LocalBus(tables, functions, invoke, app_settings={})
    assert str(refused.value) == (
        "The 'a' function is in error: Microsoft.Azure.WebJobs.Host: Error indexing method 'Functions.a'. "
        f"Microsoft.Azure.WebJobs.Host: {reason}"
    )


def test_a_bus_without_invoke_can_publish_but_not_deliver(tables, scaling: Recorder, audit: Recorder) -> None:
    publisher = make_bus(tables, scaling, audit, invoke=None)
    publisher.publish([event(1)], to=TOPIC)
    with pytest.raises(RuntimeError, match="without an invoke callback"):
        publisher.deliver_due()
    assert {d.state for d in publisher.deliveries(event(1).message_id)} == {PENDING}
