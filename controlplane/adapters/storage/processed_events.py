"""Processed event ids over document tables: PartitionKey=consumer, RowKey=event id, indexed by expiresAt."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.domain.events import format_time, parse_time
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound

TABLE = "ProcessedEvents"


class DocumentProcessedEvents:
    """The ProcessedEvents port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def mark_processed(self, consumer: str, event_id: str, now: datetime, ttl: timedelta) -> bool:
        expires = format_time(now + ttl)
        fresh = Document(consumer, event_id, {"expiresAt": expires}, index={"expiresAt": expires})
        try:
            self._tables.insert(TABLE, fresh)
            return True
        except AlreadyExists:
            pass
        try:
            stored = self._tables.get(TABLE, consumer, event_id)
        except NotFound:
            return self.mark_processed(consumer, event_id, now, ttl)  # purged between our two calls
        if parse_time(stored.body["expiresAt"]) > now:
            return False
        try:
            self._tables.replace(TABLE, replace(fresh, etag=stored.etag))
        except (ConcurrencyConflict, NotFound):
            return False  # a concurrent caller renewed it first
        return True

    def forget_processed(self, consumer: str, event_id: str) -> None:
        self._tables.delete(TABLE, consumer, event_id)

    def purge_processed(self, now: datetime) -> int:
        removed = 0
        for document in self._tables.query(TABLE):
            if parse_time(document.body["expiresAt"]) <= now:
                try:
                    self._tables.delete(TABLE, document.partition, document.row, etag=document.etag)
                except ConcurrencyConflict:
                    continue  # renewed meanwhile: keep it
                removed += 1
        return removed
