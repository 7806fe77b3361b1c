"""The event log over document tables: PartitionKey=traceid, RowKey=time|event id (time order per trace)."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.domain.events import Envelope, format_time
from controlplane.errors import AlreadyExists

TABLE = "EventLog"


class DocumentEventLog:
    """The EventLog port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def append_events(self, events: Sequence[Envelope]) -> None:
        for envelope in events:
            row = f"{format_time(envelope.time)}|{envelope.id}"
            try:
                self._tables.insert(TABLE, Document(envelope.traceid, row, envelope.to_dict()))
            except AlreadyExists:
                continue  # a retried publish: logged once

    def events_for_trace(self, traceid: str) -> list[Envelope]:
        documents = sorted(self._tables.query(TABLE, partition=traceid), key=lambda document: document.row)
        return [Envelope.from_dict(document.body) for document in documents]
