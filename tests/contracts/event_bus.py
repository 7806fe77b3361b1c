"""The EventBus contract: the Service Bus adapter, the local bus and the recording fake all pass it.

Subclasses provide a ``bus`` fixture (the port, nothing published yet) and a ``published`` fixture: a function
returning the envelopes that reached the wire (sent batches, the bus log, the record) in enqueue order. The
events here share one trace.

A re-published id may reach the wire again (Service Bus and the recording fake send it; the broker's duplicate
detection drops it) or be dropped at publish (the local bus, whose log is its duplicate detection). The
contract holds for both: nothing is lost or changed, and the first copies of the ids keep publish order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope, TraceContext, new_event
from controlplane.ports import EventBus
from tests.builders import T0

TRACE = TraceContext(traceid="0af7651916cd43dd8448eb211c80319c", correlationid="scaling-run-7")
Published = Callable[[], list[Envelope]]


def applied(number: int, **data: object) -> Envelope:
    """A ScalingPolicyApplied event of the contract's trace; ``number`` makes its id and time."""
    return new_event(
        EventType.SCALING_POLICY_APPLIED,
        event_id=f"00000000-0000-4000-8000-{number:012d}",
        source="/runtime-control-plane/scaling",
        time=T0 + timedelta(seconds=number),
        trace=TRACE,
        data={"environment": "dev", "service": "orders", "from": 2, "to": 3, "rule": "cpu", **data},
    )


def first_copies(envelopes: list[Envelope]) -> list[Envelope]:
    """What consumers see after duplicate detection: the first envelope of each id."""
    seen: dict[str, Envelope] = {}
    for envelope in envelopes:
        seen.setdefault(envelope.id, envelope)
    return list(seen.values())


class EventBusContract:
    def test_the_events_of_one_publish_arrive_in_order(self, bus: EventBus, published: Published) -> None:
        events = [applied(number) for number in (3, 1, 2, 5, 4)]  # publish order, not time or id order
        bus.publish(events)
        assert published() == events

    def test_order_holds_across_publishes(self, bus: EventBus, published: Published) -> None:
        bus.publish([applied(1)])
        bus.publish([applied(2), applied(3)])
        bus.publish([applied(4)])
        assert published() == [applied(number) for number in (1, 2, 3, 4)]

    def test_many_events_in_one_publish_keep_their_order(self, bus: EventBus, published: Published) -> None:
        events = [applied(number, rule="rps", padding="x" * 500) for number in range(1, 41)]
        bus.publish(events)
        assert published() == events

    def test_publishing_nothing_sends_nothing(self, bus: EventBus, published: Published) -> None:
        bus.publish([])
        assert published() == []

    def test_envelopes_arrive_unchanged(self, bus: EventBus, published: Published) -> None:
        event = applied(1, nested={"replicas": [2, 3], "reason": "cpu 91.5 vs target 70 → 3 replicas"})
        bus.publish([event])
        [arrived] = published()
        assert arrived == event
        assert arrived.to_dict() == event.to_dict()

    def test_a_republished_event_is_neither_lost_nor_changed(self, bus: EventBus, published: Published) -> None:
        bus.publish([applied(1), applied(2)])
        bus.publish([applied(2), applied(3)])  # a retried step publishes its event again
        arrived = published()
        assert first_copies(arrived) == [applied(1), applied(2), applied(3)]
        assert all(envelope == applied(int(envelope.id[-12:])) for envelope in arrived)
        assert len(arrived) in (3, 4)  # dropped at publish, or sent again for the broker to drop
