"""The EventLog contract (the event log): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.audit import EventQuery
from controlplane.domain.events import Envelope, traceparent_for
from controlplane.ports import EventLog
from tests.builders import T0, trace_event

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
ALICE = {"name": "alice@contoso.com", "objectId": "8c5f0e7e-0000-4000-8000-00000000a11c", "roles": ["Approver"]}


def _event(
    event_id: str, at: datetime, kind: str = "RuntimeDeploymentStateChanged", traceid: str = TRACE, **data: Any
) -> Envelope:
    return Envelope(
        id=event_id,
        source="/tests",
        type=kind,
        time=at,
        data=data,
        traceid=traceid,
        traceparent=traceparent_for(traceid, event_id),
        correlationid="dep-1",
    )


def _ids(event_log: EventLog, query: EventQuery) -> list[str]:
    return [event.id for event in event_log.query_events(query).events]


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

    def test_a_capped_read_of_a_trace_answers_its_first_events(self, event_log: EventLog) -> None:
        event_log.append_events([trace_event(f"e-{n}", seconds=n) for n in (3, 1, 2)])
        assert [e.id for e in event_log.events_for_trace(TRACE, limit=2)] == ["e-1", "e-2"]
        assert [e.id for e in event_log.events_for_trace(TRACE, limit=5)] == ["e-1", "e-2", "e-3"]

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

    def test_a_tick_of_many_traces_is_logged_indexed_and_pending_and_its_retry_adds_nothing(
        self, event_log: EventLog
    ) -> None:
        traces = [f"{n:032x}" for n in range(1, 131)]  # more than one transaction's worth of one day
        tick = [_event(f"t-{n}", T0 + timedelta(microseconds=n), traceid=trace) for n, trace in enumerate(traces)]
        event_log.append_events(tick[:40])
        event_log.mark_published(tick[:20])
        event_log.append_events(tick)  # a retried tick: the first 40 are logged (20 of them published since)
        assert [e.id for e in event_log.events_for_trace(traces[7])] == ["t-7"]
        assert sorted(e.id for e in event_log.pending_events(500)) == sorted(e.id for e in tick[20:])
        assert len(_ids(event_log, EventQuery(since=T0, until=T0 + timedelta(seconds=1), limit=200))) == 130
        event_log.mark_published(tick)
        assert event_log.pending_events(500) == []

    def test_a_query_answers_the_range_newest_first_across_days_and_traces(self, event_log: EventLog) -> None:
        day = timedelta(days=1)
        event_log.append_events(
            [
                _event("old", T0 - 2 * day),
                _event("yesterday", T0 - day, traceid=OTHER_TRACE),
                _event("now", T0),
                _event("later", T0 + timedelta(seconds=1)),
                _event("tomorrow", T0 + day),
            ]
        )
        query = EventQuery(since=T0 - day, until=T0 + day)
        assert _ids(event_log, query) == ["later", "now", "yesterday"]
        assert _ids(event_log, EventQuery(since=T0, until=T0 + timedelta(seconds=1))) == ["now"]

    def test_a_query_filters_on_type_environment_service_and_actor(self, event_log: EventLog) -> None:
        second = timedelta(seconds=1)
        event_log.append_events(
            [
                _event("requested", T0, "RuntimeDeploymentRequested", environment="prod", services=["orders", "cart"]),
                _event("approved", T0 + second, environment="prod", actor=ALICE),
                _event("scaled", T0 + 2 * second, "ScalingPolicyApplied", environment="dev", service="orders"),
                _event(
                    "done", T0 + 3 * second, "RuntimeDeploymentCompleted", environment="prod", services={"cart": "r2"}
                ),
                _event("checked", T0 + 4 * second, "HealthCheckCompleted", environment="prod", service="cart"),
            ]
        )
        window = {"since": T0, "until": T0 + timedelta(minutes=1)}
        assert _ids(event_log, EventQuery(**window, environment="prod")) == ["checked", "done", "approved", "requested"]
        types = frozenset({"RuntimeDeploymentRequested", "ScalingPolicyApplied"})
        assert _ids(event_log, EventQuery(**window, types=types)) == ["scaled", "requested"]
        assert _ids(event_log, EventQuery(**window, service="orders")) == ["scaled", "requested"]
        assert _ids(event_log, EventQuery(**window, service="cart", environment="prod")) == [
            "checked",
            "done",
            "requested",
        ]
        assert _ids(event_log, EventQuery(**window, actor="alice@contoso.com")) == ["approved"]
        assert _ids(event_log, EventQuery(**window, actor=ALICE["objectId"])) == ["approved"]
        assert _ids(event_log, EventQuery(**window, actor="bob")) == []

    def test_pages_follow_each_other_until_no_continuation(self, event_log: EventLog) -> None:
        hours = [T0 + timedelta(hours=5 * number) for number in range(7)]  # over two days
        event_log.append_events([_event(f"e-{number}", at) for number, at in enumerate(hours)])
        seen: list[str] = []
        query = EventQuery(since=T0, until=T0 + timedelta(days=3), limit=3)
        while True:
            page = event_log.query_events(query)
            seen.extend(event.id for event in page.events)
            if page.next is None:
                break
            query = EventQuery(since=query.since, until=query.until, limit=3, start=page.next)
        assert seen == [f"e-{number}" for number in reversed(range(7))]
        last = event_log.query_events(EventQuery(since=T0, until=T0 + timedelta(days=3), limit=7))
        assert len(last.events) == 7 and last.next is None

    def test_purge_deletes_whole_days_before_the_horizon_but_keeps_what_is_pending(self, event_log: EventLog) -> None:
        day = timedelta(days=1)
        published = [_event("old-1", T0 - 3 * day), _event("old-2", T0 - 2 * day, traceid=OTHER_TRACE)]
        pending = _event("old-pending", T0 - 2 * day + timedelta(minutes=1), traceid=OTHER_TRACE)
        recent = [_event("same-day", T0 - timedelta(hours=1)), _event("new", T0)]
        event_log.append_events([*published, pending, *recent])
        event_log.mark_published([*published, *recent])

        assert event_log.purge_events(T0, limit=1) == 1
        assert event_log.purge_events(T0, limit=10) == 1

        everything = EventQuery(since=T0 - 5 * day, until=T0 + day)
        assert _ids(event_log, everything) == ["new", "same-day", "old-pending"]
        assert [event.id for event in event_log.events_for_trace(OTHER_TRACE)] == ["old-pending"]
        assert [event.id for event in event_log.events_for_trace(TRACE)] == ["same-day", "new"]
        event_log.mark_published([pending])
        assert event_log.purge_events(T0, limit=10) == 1
        assert event_log.events_for_trace(OTHER_TRACE) == []
