"""The event log over document tables, with its outbox of events pending publish.

    EventLog     PartitionKey=traceid  RowKey=time|event id  every envelope emitted (time order per trace)
    EventOutbox  PartitionKey=traceid  RowKey=time|event id  the envelopes not yet published

The pending mark is a row of its own table rather than a column of the log, so the relay reads only what
is pending: on Azure Table storage a filter on a non-key column scans the whole (ever growing) log.
"""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.domain.events import Envelope, format_time
from controlplane.errors import AlreadyExists

TABLE = "EventLog"
OUTBOX = "EventOutbox"


class DocumentEventLog:
    """The EventLog port over any DocumentTables (its tables created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def append_events(self, events: Sequence[Envelope]) -> None:
        """Mark pending, then log: a crash between the two leaves a pending mark (the relay logs and
        publishes it), never a logged event nobody will publish. A mark created for an event already
        in the log is the retry of an append whose event was published since: it is taken back."""
        for envelope in events:
            document = Document(envelope.traceid, _row(envelope), envelope.to_dict())
            try:
                self._tables.insert(OUTBOX, document)
                marked = True
            except AlreadyExists:
                marked = False  # still pending from an earlier append
            try:
                self._tables.insert(TABLE, document)
            except AlreadyExists:
                if marked:
                    self._tables.delete(OUTBOX, document.partition, document.row)

    def events_for_trace(self, traceid: str) -> list[Envelope]:
        documents = sorted(self._tables.query(TABLE, partition=traceid), key=lambda document: document.row)
        return [Envelope.from_dict(document.body) for document in documents]

    def pending_events(self, limit: int, traceid: str | None = None) -> list[Envelope]:
        documents = sorted(
            self._tables.query(OUTBOX, partition=traceid), key=lambda document: (document.partition, document.row)
        )
        return [Envelope.from_dict(document.body) for document in documents[:limit]]

    def mark_published(self, events: Sequence[Envelope]) -> None:
        for envelope in events:
            self._tables.delete(OUTBOX, envelope.traceid, _row(envelope))


def _row(envelope: Envelope) -> str:
    return f"{format_time(envelope.time)}|{envelope.id}"
