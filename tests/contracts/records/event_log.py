"""The EventLog contract (the event log): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.ports import EventLog
from tests.builders import trace_event


class EventLogContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def event_log(self, stores: Stores) -> EventLog:
        return stores.event_log

    def test_the_event_log_keeps_each_event_once_in_time_order(self, event_log: EventLog) -> None:
        first, second = trace_event("e-1", seconds=1), trace_event("e-2", seconds=2)
        event_log.append_events([second, first])
        event_log.append_events([first])
        assert [e.id for e in event_log.events_for_trace(first.traceid)] == ["e-1", "e-2"]
        assert event_log.events_for_trace("0af7651916cd43dd8448eb211c80319c") == []

    def test_appended_events_are_pending_by_trace_then_time_until_marked_published(self, event_log: EventLog) -> None:
        other = "0af7651916cd43dd8448eb211c80319c"
        late, early = trace_event("e-2", seconds=2), trace_event("e-1", seconds=1)
        elsewhere = trace_event("x-1", seconds=0, traceid=other)
        event_log.append_events([late, early, elsewhere])
        assert [e.id for e in event_log.pending_events(10)] == ["x-1", "e-1", "e-2"]
        assert [e.id for e in event_log.pending_events(2)] == ["x-1", "e-1"]
        assert [e.id for e in event_log.pending_events(10, early.traceid)] == ["e-1", "e-2"]
        event_log.mark_published([early, elsewhere])
        event_log.mark_published([early])
        assert [e.id for e in event_log.pending_events(10)] == ["e-2"]
        assert [e.id for e in event_log.events_for_trace(early.traceid)] == ["e-1", "e-2"]

    def test_appending_a_published_event_again_does_not_make_it_pending(self, event_log: EventLog) -> None:
        event = trace_event("e-1", seconds=1)
        event_log.append_events([event])
        event_log.mark_published([event])
        event_log.append_events([event])
        assert event_log.pending_events(10) == []
        assert [e.id for e in event_log.events_for_trace(event.traceid)] == ["e-1"]
