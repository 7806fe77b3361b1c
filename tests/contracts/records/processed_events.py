"""The ProcessedEvents contract: the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from controlplane.adapters.storage import processed_events
from controlplane.adapters.storage.documents import Document, DocumentTables, KeyRange
from controlplane.adapters.storage.stores import Stores
from controlplane.domain.events import format_time
from controlplane.ports import ProcessedEvents
from tests.builders import T0


class ProcessedEventsContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def processed_events(self, stores: Stores) -> ProcessedEvents:
        return stores.processed_events

    def test_an_event_is_processed_once_until_its_ttl_passes(self, processed_events: ProcessedEvents) -> None:
        ttl = timedelta(hours=1)
        assert processed_events.mark_processed("scaling", "evt-1", T0, T0, ttl) is True
        assert processed_events.mark_processed("scaling", "evt-1", T0, T0 + timedelta(minutes=5), ttl) is False
        assert processed_events.mark_processed("drift", "evt-1", T0, T0, ttl) is True
        assert processed_events.mark_processed("scaling", "evt-1", T0, T0 + timedelta(hours=2), ttl) is True

    def test_exactly_one_concurrent_consumer_wins_an_event(self, processed_events: ProcessedEvents) -> None:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(
                pool.map(lambda _: processed_events.mark_processed("c", "evt", T0, T0, timedelta(hours=1)), range(8))
            )
        assert results.count(True) == 1

    def test_a_forgotten_event_is_processed_again(self, processed_events: ProcessedEvents) -> None:
        ttl = timedelta(hours=1)
        processed_events.mark_processed("scaling", "evt-1", T0, T0, ttl)
        processed_events.forget_processed("scaling", "evt-1", T0, ttl)
        processed_events.forget_processed("scaling", "never-seen", T0, ttl)
        assert processed_events.mark_processed("scaling", "evt-1", T0, T0 + timedelta(minutes=5), ttl) is True

    def test_purge_forgets_only_expired_processed_events(self, processed_events: ProcessedEvents) -> None:
        later = T0 + timedelta(hours=2)
        processed_events.mark_processed("c", "old", T0, T0, timedelta(minutes=1))
        processed_events.mark_processed("c", "new", T0, T0, timedelta(hours=3))
        assert processed_events.purge_processed(later, 100) == 1
        assert processed_events.purge_processed(later, 100) == 0
        assert processed_events.mark_processed("c", "new", T0, later, timedelta(hours=3)) is False
        assert processed_events.mark_processed("c", "old", T0, later, timedelta(minutes=1)) is True

    def test_an_event_handled_late_is_kept_its_whole_ttl(self, processed_events: ProcessedEvents) -> None:
        """Sent at T0 but handled a day later (the bus held it): its record outlives its partition's hour."""
        handled = T0 + timedelta(days=1)
        processed_events.mark_processed("c", "late", T0, handled, timedelta(hours=1))
        assert processed_events.purge_processed(handled + timedelta(minutes=30), 100) == 0
        assert (
            processed_events.mark_processed("c", "late", T0, handled + timedelta(minutes=30), timedelta(hours=1))
            is False
        )
        assert processed_events.purge_processed(handled + timedelta(hours=1), 100) == 1

    def test_purge_stops_at_its_limit(self, processed_events: ProcessedEvents) -> None:
        for number in range(5):
            processed_events.mark_processed("c", f"e{number}", T0, T0, timedelta(minutes=1))
        later = T0 + timedelta(hours=2)
        assert processed_events.purge_processed(later, 3) == 3
        assert processed_events.purge_processed(later, 3) == 2


class ProcessedEventsUpgradeContract:
    """Rows of the layout before expiry-hour partitions (PartitionKey=consumer) are still read and purged.
    Subclasses provide ``tables`` (the record tables created, empty) and ``stores`` over them."""

    @staticmethod
    def _old_row(tables: DocumentTables, consumer: str, event_id: str, expires: datetime) -> None:
        at = format_time(expires)
        tables.insert(processed_events.TABLE, Document(consumer, event_id, {"expiresAt": at}, {"expiresAt": at}))

    def test_an_event_handled_before_the_upgrade_is_still_a_duplicate(
        self, tables: DocumentTables, stores: Stores
    ) -> None:
        self._old_row(tables, "notify-ops", "evt-1", T0 + timedelta(days=15))
        assert stores.processed_events.mark_processed("notify-ops", "evt-1", T0, T0, timedelta(days=15)) is False
        assert stores.processed_events.mark_processed("notify-ops", "evt-2", T0, T0, timedelta(days=15)) is True

    def test_old_rows_are_purged_once_expired(self, tables: DocumentTables, stores: Stores) -> None:
        self._old_row(tables, "scaling", "old", T0 + timedelta(hours=1))
        self._old_row(tables, "scaling", "live", T0 + timedelta(days=1))
        stores.processed_events.mark_processed("scaling", "new", T0, T0, timedelta(minutes=1))
        assert stores.processed_events.purge_processed(T0 + timedelta(hours=2), 100) == 2
        kept = [(d.partition, d.row) for d in tables.scan(processed_events.TABLE, KeyRange())]
        assert kept == [("scaling", "live")]
