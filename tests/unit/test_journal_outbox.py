"""The event log as the bus's outbox: a failing bus delays events, never loses or reorders them."""

from __future__ import annotations

from datetime import timedelta

from controlplane.adapters.storage.event_log import OUTBOX, outbox_mark
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.domain.audit import EventQuery
from controlplane.services import journal
from controlplane.testing.event_order import lost_events
from controlplane.testing.fakes import FailingEventBus
from controlplane.testing.memory_documents import MemoryDocumentTables, memory_stores
from tests.builders import trace_event

TRACE_A = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"


def test_a_published_event_is_no_longer_pending() -> None:
    log, bus = memory_stores().event_log, FailingEventBus()
    journal.record(log, bus, [trace_event("a-1", 1)])
    assert [e.id for e in bus.published] == ["a-1"]
    assert log.pending_events(10) == []


def test_a_failed_publish_keeps_the_event_pending_and_does_not_raise() -> None:
    log, bus = memory_stores().event_log, FailingEventBus(failures=1)
    journal.record(log, bus, [trace_event("a-1", 1)])
    assert bus.published == []
    assert [e.id for e in log.pending_events(10)] == ["a-1"]
    assert [e.id for e in log.events_for_trace(TRACE_A)] == ["a-1"]


def test_the_next_record_of_the_trace_publishes_the_earlier_pending_event_first() -> None:
    log, bus = memory_stores().event_log, FailingEventBus(failures=1)
    journal.record(log, bus, [trace_event("a-1", 1)])
    journal.record(log, bus, [trace_event("a-2", 2)])
    assert [e.id for e in bus.published] == ["a-1", "a-2"]
    assert log.pending_events(10) == []


def test_a_later_event_never_overtakes_a_pending_one_of_its_trace() -> None:
    log, bus = memory_stores().event_log, FailingEventBus(failures=3)
    for number in range(1, 4):
        journal.record(log, bus, [trace_event(f"a-{number}", number)])
    assert bus.published == []
    assert [e.id for e in log.pending_events(10)] == ["a-1", "a-2", "a-3"]


def test_the_relay_publishes_pending_events_in_order_per_trace_once_the_bus_is_back() -> None:
    log, bus = memory_stores().event_log, FailingEventBus(failures=4)
    journal.record(log, bus, [trace_event("a-1", 1)])
    journal.record(log, bus, [trace_event("b-1", 1, traceid=TRACE_B)])
    journal.record(log, bus, [trace_event("a-2", 2)])
    journal.record(log, bus, [trace_event("b-2", 2, traceid=TRACE_B)])
    outcome = journal.relay(log, bus)
    assert outcome == journal.RelayOutcome(published=4, failed_traces=0)
    assert [e.id for e in bus.published] == ["b-1", "b-2", "a-1", "a-2"]
    assert log.pending_events(10) == []
    logged = log.events_for_trace(TRACE_A) + log.events_for_trace(TRACE_B)
    assert lost_events(logged, bus.published) == []


def test_a_relay_pass_that_fails_for_one_trace_publishes_the_others() -> None:
    log, bus = memory_stores().event_log, FailingEventBus(failures=2)
    journal.record(log, bus, [trace_event("a-1", 1)])
    journal.record(log, bus, [trace_event("b-1", 1, traceid=TRACE_B)])
    bus.failures = 1  # the first trace the relay tries (b, by trace id order) fails again
    assert journal.relay(log, bus) == journal.RelayOutcome(published=1, failed_traces=1)
    assert [e.id for e in bus.published] == ["a-1"]
    assert [e.id for e in log.pending_events(10)] == ["b-1"]


def test_the_relay_logs_and_publishes_an_event_whose_append_stopped_after_its_pending_mark() -> None:
    tables = MemoryDocumentTables()
    create_tables(tables)
    log, bus = Stores.over(tables).event_log, FailingEventBus()
    event = trace_event("a-1", 1)
    tables.insert(OUTBOX, outbox_mark(event))
    assert journal.relay(log, bus).published == 1
    assert [e.id for e in log.events_for_trace(TRACE_A)] == ["a-1"]
    assert [e.id for e in bus.published] == ["a-1"]
    assert log.pending_events(10) == []
    audited = log.query_events(EventQuery(since=event.time, until=event.time + timedelta(seconds=1)))
    assert [e.id for e in audited.events] == ["a-1"]  # the relay's append indexed it too


def test_lost_events_names_unpublished_and_overtaken_events() -> None:
    one, two, three = (trace_event(f"a-{n}", n) for n in (1, 2, 3))
    assert lost_events([one, two, three], [one, two, one, three]) == []
    assert lost_events([one, two, three], [one, three]) == ["a-2"]
    assert lost_events([one, two, three], [two, one, three]) == ["a-2"]
