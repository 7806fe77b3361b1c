"""Event retention: the purge deletes the days before the horizon in batches, keeps what is pending publish, and
the timer trigger runs it with the configured retention."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.domain.audit import EventQuery
from controlplane.ports import EventLog
from controlplane.services import retention
from controlplane.testing.memory_documents import memory_stores
from tests import product_app
from tests.builders import T0
from tests.contracts.records.event_log import _event

DAY = timedelta(days=1)


def _logged(event_log: EventLog, count: int, at: datetime, prefix: str) -> None:
    events = [_event(f"{prefix}-{number}", at + timedelta(seconds=number)) for number in range(count)]
    event_log.append_events(events)
    event_log.mark_published(events)


def _kept(event_log: EventLog) -> list[str]:
    page = event_log.query_events(EventQuery(since=T0 - 100 * DAY, until=T0 + DAY, limit=200))
    return sorted(event.id for event in page.events)


def test_the_purge_deletes_expired_days_in_batches_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "PURGE_BATCH", 4)
    event_log = memory_stores().event_log
    _logged(event_log, 9, T0 - 40 * DAY, "old")
    _logged(event_log, 2, T0 - 29 * DAY, "kept")
    pending = _event("pending", T0 - 40 * DAY)
    event_log.append_events([pending])

    outcome = retention.purge_expired_events(event_log, T0, timedelta(days=30))

    assert outcome == retention.PurgeOutcome(deleted=9, complete=True)
    assert _kept(event_log) == ["kept-0", "kept-1", "pending"]
    assert [event.id for event in event_log.pending_events(10)] == ["pending"]


def test_a_run_stops_after_its_batches_and_the_next_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "PURGE_BATCH", 2)
    monkeypatch.setattr(retention, "MAX_BATCHES", 2)
    event_log = memory_stores().event_log
    _logged(event_log, 6, T0 - 40 * DAY, "old")

    assert retention.purge_expired_events(event_log, T0, timedelta(days=30)) == retention.PurgeOutcome(4, False)
    assert retention.purge_expired_events(event_log, T0, timedelta(days=30)) == retention.PurgeOutcome(2, True)
    assert _kept(event_log) == []


@pytest.fixture
def wired_log() -> Iterator[EventLog]:
    wired = fake_ports()
    use_ports(wired)
    yield wired.store.event_log
    use_ports(None)


def test_the_timer_purges_with_the_configured_retention_and_logs_a_count(
    wired_log: EventLog, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    expired, recent = _event("expired", now - 92 * DAY), _event("recent", now - 88 * DAY)
    wired_log.append_events([expired, recent])
    wired_log.mark_published([expired, recent])
    handler = product_app.index().get("event_retention_timer").handler

    with caplog.at_level(logging.INFO, logger="triggers.retention"):
        handler(None)

    assert [event.id for event in wired_log.events_for_trace(recent.traceid)] == ["recent"]
    assert "deleted 1 expired event(s)" in caplog.text
