"""The scaling consumer under concurrent Service Bus delivery: the product's ``scaling_on_health_check``
trigger fed by the local bus on Azurite, with the stored records on Azurite too.

Service Bus delivers up to host.json's ``maxConcurrentCalls`` messages of one subscription at once, so
several HealthCheckCompleted events for one service are evaluated at the same time. Exactly one decision
may win, and a change is applied once. Compute and metrics are the in-memory fakes of the workflow world
(the deployment that promotes the service runs through the durable engine as in the unit tests).
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.servicebus.mapping import subscription_filters
from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.local.event_bus import TOPIC, LocalEventBus
from controlplane.adapters.local.provisioner import LocalProvisioner
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import CONTENT_TYPE, Envelope, TraceContext, new_event
from controlplane.domain.manifest import parse_release
from controlplane.ports import Compute
from funchost.azurite import Azurite
from funchost.functions import SERVICE_BUS, FunctionEntry
from funchost.invoker import Invoker
from funchost.servicebus.bus import LocalBus
from funchost.servicebus.message import Message
from funchost.servicebus.options import ServiceBusOptions
from funchost.servicebus.records import DELIVERED
from funchost.storage.azure_tables import AzureTables
from tests import product_app
from tests.workflow_world import World, release

pytestmark = pytest.mark.azurite

POLICY = {"minReplicas": 1, "maxReplicas": 6, "cooldownSeconds": 60, "rules": [{"metric": "cpu", "target": 50}]}
WAIT = 10  # seconds a coordinated thread waits for the other before the test fails rather than hangs


class CountingCompute:
    """The world's compute, recording each scale call; the first one can be held until ``release`` is set."""

    def __init__(self, compute: Compute) -> None:
        self._compute = compute
        self.scaled: list[tuple[str, str, str, int]] = []
        self.applying = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compute, name)

    def scale(self, environment: str, service: str, revision: str, replicas: int) -> None:
        with self._lock:
            self.scaled.append((environment, service, revision, replicas))
            first = len(self.scaled) == 1
        if first:
            self.applying.set()
            self.release.wait(WAIT)
        self._compute.scale(environment, service, revision, replicas)


class BarrierMetrics:
    """The world's metrics; every read waits until ``parties`` evaluations are reading at once."""

    def __init__(self, metrics: Any, parties: int) -> None:
        self._metrics = metrics
        self._barrier = threading.Barrier(parties, timeout=WAIT)

    def read(self, *arguments: Any) -> Any:
        self._barrier.wait()
        return self._metrics.read(*arguments)


@pytest.fixture
def world(tmp_path: Path, azurite: Azurite, table_prefix: str) -> Iterator[World]:
    """The workflow world with its stored records on Azurite, and orders promoted in dev under POLICY."""
    world = World(tmp_path)
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    tables = AzureTableDocuments(service, prefix=table_prefix)
    create_tables(tables)
    world.store = Stores.over(tables)
    wire(world, world.compute, world.metrics, tmp_path)
    document = copy.deepcopy(release("1.0.0").to_dict())
    document["spec"]["services"][0]["scaling"] = POLICY
    world.seed_completed(parse_release(document))
    world.metrics.set("dev", "orders", cpu=100.0)  # 2 replicas at twice the target: the policy wants 4
    yield world
    world.engine.stop()
    use_ports(None)


def wire(world: World, compute: Any, metrics: Any, tmp_path: Path) -> None:
    """What the trigger functions get from ``controlplane.bootstrap.ports()``."""
    use_ports(
        fake_ports(
            store=world.store,
            events=world.bus,
            compute=compute,
            health=world.health,
            provisioner=LocalProvisioner(tmp_path),
            desired_state=world.desired,
            metrics=metrics,
        )
    )


def consumer_bus(azurite: Azurite, prefix: str, invoke: Any, calls: int) -> LocalBus:
    """The local bus on Azurite delivering to the product's Service Bus triggers, ``calls`` at once, with the
    subscriptions' SQL filters, as the local host builds it."""
    tables = AzureTables(TableServiceClient.from_connection_string(azurite.connection_string), prefix)
    triggers = product_app.index().of_type(SERVICE_BUS)
    options = ServiceBusOptions(max_concurrent_calls=calls)
    bus = LocalBus(tables, triggers, invoke, options=options, filters=subscription_filters("events"))
    bus.create_tables()
    return bus


def health_checks(count: int) -> list[Envelope]:
    """``count`` HealthCheckCompleted events for dev/orders, each of its own health probe run."""
    return [
        new_event(
            EventType.HEALTH_CHECK_COMPLETED,
            event_id=str(uuid.uuid4()),
            source="/tests/health",
            time=datetime.now(UTC),
            trace=TraceContext(uuid.uuid4().hex, "dev/orders"),
            data={"environment": "dev", "service": "orders", "revision": "r", "report": {}},
        )
        for _ in range(count)
    ]


def applied(world: World) -> list[tuple[int, int]]:
    return [(e.data["from"], e.data["to"]) for e in world.bus.published if e.type == "ScalingPolicyApplied"]


def replicas(world: World) -> int:
    revision = world.store.catalog.get_catalog_entry("dev", "orders").revision
    return next(w.replicas for w in world.compute.inventory("dev") if w.revision == revision)


def drain(bus: LocalBus) -> None:
    while bus.deliver_due():
        pass


def test_concurrent_health_checks_for_one_service_make_one_decision_applied_once(
    world: World, azurite: Azurite, table_prefix: str, tmp_path: Path
) -> None:
    compute = CountingCompute(world.compute)
    # Every evaluation reads the metrics only after all four have read the stored scaling state: four
    # decisions from the same state race to be stored, and only one may be.
    wire(world, compute, BarrierMetrics(world.metrics, parties=4), tmp_path)
    bus = consumer_bus(azurite, table_prefix, Invoker(lambda _name: ""), calls=4)
    events = health_checks(4)
    LocalEventBus(bus).publish(events)

    drain(bus)
    bus.stop()

    assert [bus.deliveries(event.id)[0].state for event in events] == [DELIVERED] * 4
    assert len(compute.scaled) == 1 and replicas(world) == 4
    assert applied(world) == [(2, 4)]
    state = world.store.loop_states.get_loop_state("scaling", "dev/orders")
    assert state is not None and state.body["pending"] is None and state.body["lastApplied"]["to"] == 4


def test_an_evaluation_during_another_ones_apply_leaves_the_change_to_it(
    world: World, azurite: Azurite, table_prefix: str, tmp_path: Path
) -> None:
    compute = CountingCompute(world.compute)
    compute.release.clear()  # the first scale call waits until the second delivery has been handled
    wire(world, compute, world.metrics, tmp_path)
    invoker = Invoker(lambda _name: "")
    started: list[str] = []
    lock = threading.Lock()

    def invoke(entry: FunctionEntry, message: Any) -> None:
        with lock:
            started.append(message.message_id)
            second = len(started) == 2
        if not second:
            invoker(entry, message)
            return
        compute.applying.wait(WAIT)  # the first evaluation has stored its decision and is applying it
        try:
            invoker(entry, message)
        finally:
            compute.release.set()

    bus = consumer_bus(azurite, table_prefix, invoke, calls=2)
    events = health_checks(2)
    LocalEventBus(bus).publish(events)

    drain(bus)
    bus.stop()

    assert len(started) == 2
    assert [bus.deliveries(event.id)[0].state for event in events] == [DELIVERED] * 2
    assert len(compute.scaled) == 1 and replicas(world) == 4
    assert applied(world) == [(2, 4)]


def test_a_health_check_without_an_envelope_fails_fast_and_is_dead_lettered_after_ten_deliveries(
    world: World, azurite: Azurite, table_prefix: str
) -> None:
    """The ``func.ServiceBusMessage`` binding cannot dead-letter: the function raises before any side effect,
    the host abandons the message, and Service Bus dead-letters it after MaxDeliveryCount deliveries."""
    bus = consumer_bus(azurite, table_prefix, Invoker(lambda _name: ""), calls=4)
    traceid = uuid.uuid4().hex
    garbled = Message(
        "garbled", traceid, "HealthCheckCompleted", CONTENT_TYPE, {"type": "HealthCheckCompleted"}, b"{oops"
    )
    other = Message("other", traceid, "Note", "text/plain", {"type": "Note"}, b"hello")
    bus.publish([garbled, other], to=TOPIC)

    drain(bus)
    bus.stop()

    [letter] = bus.dead_letters()
    assert (letter.message_id, letter.delivery_count, letter.reason) == ("garbled", 10, "MaxDeliveryCountExceeded")
    assert letter.last_error is not None and letter.last_error.startswith("InvalidEnvelope: invalid event envelope")
    assert "not JSON" in letter.last_error
    assert bus.deliveries("other") == []  # the subscription's SQL filter keeps it out
    assert world.metrics.reads == 0 and applied(world) == []
