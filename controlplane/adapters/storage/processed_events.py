"""Processed event ids over document tables, partitioned by the hour they expire.

    ProcessedEvents  PartitionKey=expiry hour|consumer  RowKey=event id  body: expiresAt

The expiry hour is the UTC hour of the event's own time plus the consumer's duplicate window (``sent + ttl``,
``YYYY-MM-DDTHH``): the same on every delivery of an event, so a duplicate is one point read, and the records
that expired are the partitions before the current hour, a key range the purge deletes a transaction (100 rows)
at a time. ``expiresAt`` (when the event was handled plus the ttl) has the last word: an event handled long after
it was sent (a bus outage held it) is kept until then, its partition read again by the next purges.

Rows written before this layout (PartitionKey=consumer, RowKey=event id, index expiresAt) are still read: while
any remain (they all expire within the longest duplicate window after the upgrade), a first delivery is checked
against them too, and the purge deletes the expired ones. An adapter probes for them at most once an hour and
stops reading them once there are none.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from controlplane.adapters.storage.documents import Document, DocumentTables, KeyRange
from controlplane.adapters.storage.purging import delete_documents
from controlplane.domain.events import format_time, parse_time
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound

TABLE = "ProcessedEvents"
# Every partition of the old layout (a consumer's name, never starting with a digit) sorts after this; every
# partition of the hour layout (starting with a year) before it.
_LEGACY = KeyRange(partitions_after="9~")
_LEGACY_PROBE = timedelta(hours=1)


def expiry_hour(sent: datetime, ttl: timedelta) -> str:
    """The partition's hour of an event sent at ``sent`` that its consumer remembers for ``ttl``."""
    return format_time(sent + ttl)[:13]


class DocumentProcessedEvents:
    """The ProcessedEvents port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables
        self._legacy_probed: datetime | None = None
        self._legacy = True

    def mark_processed(self, consumer: str, event_id: str, sent: datetime, now: datetime, ttl: timedelta) -> bool:
        expires = format_time(now + ttl)
        fresh = Document(f"{expiry_hour(sent, ttl)}|{consumer}", event_id, {"expiresAt": expires})
        try:
            self._tables.insert(TABLE, fresh)
        except AlreadyExists:
            return self._renewed(fresh, consumer, event_id, sent, now, ttl)
        return not self._handled_before_upgrade(consumer, event_id, now)

    def forget_processed(self, consumer: str, event_id: str, sent: datetime, ttl: timedelta) -> None:
        self._tables.delete(TABLE, f"{expiry_hour(sent, ttl)}|{consumer}", event_id)

    def purge_processed(self, now: datetime, limit: int) -> int:
        """The expired rows of the hours before ``now``'s, then of the old layout, at most ``limit``; each deleted
        only as it was read (a record renewed meanwhile stays)."""
        expired = self._expired(KeyRange(partitions_before=format_time(now)[:13]), now)
        deleted = delete_documents(self._tables, TABLE, itertools.islice(expired, limit), conditional=True)
        if deleted < limit:
            old = itertools.islice(self._expired(_LEGACY, now), limit - deleted)
            deleted += delete_documents(self._tables, TABLE, old, conditional=True)
        return deleted

    def _expired(self, keys: KeyRange, now: datetime) -> Iterator[Document]:
        for document in self._tables.scan(TABLE, keys):
            if parse_time(document.body["expiresAt"]) <= now:
                yield document

    def _renewed(
        self, fresh: Document, consumer: str, event_id: str, sent: datetime, now: datetime, ttl: timedelta
    ) -> bool:
        """Handled before: a duplicate while its record is unexpired, else the record is renewed (True)."""
        try:
            stored = self._tables.get(TABLE, fresh.partition, fresh.row)
        except NotFound:
            return self.mark_processed(consumer, event_id, sent, now, ttl)  # purged between our two calls
        if parse_time(stored.body["expiresAt"]) > now:
            return False
        try:
            self._tables.replace(TABLE, replace(fresh, etag=stored.etag))
        except (ConcurrencyConflict, NotFound):
            return False  # a concurrent caller renewed it first
        return True

    def _handled_before_upgrade(self, consumer: str, event_id: str, now: datetime) -> bool:
        """Whether an unexpired row of the old layout says ``consumer`` handled ``event_id``."""
        if self._legacy_probed is None or now - self._legacy_probed >= _LEGACY_PROBE:
            self._legacy = next(iter(self._tables.scan(TABLE, _LEGACY, batch=1)), None) is not None
            self._legacy_probed = now
        if not self._legacy:
            return False
        try:
            stored = self._tables.get(TABLE, consumer, event_id)
        except NotFound:
            return False
        return parse_time(stored.body["expiresAt"]) > now
