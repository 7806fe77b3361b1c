"""The event log over document tables, with its outbox of events pending publish and its audit index.

    EventLog     PartitionKey=traceid  RowKey=time|event id            every envelope emitted (time order per trace)
    EventOutbox  PartitionKey=traceid  RowKey=time|event id            the envelopes not yet published
    EventAudit   PartitionKey=UTC day  RowKey=inverted time|event id   every envelope, newest first per day, with
                                                                       the columns the audit filters on

The pending mark is a row of its own table rather than a column of the log, so the relay reads only what
is pending: on Azure Table storage a filter on a non-key column scans the whole (ever growing) log. For the
same reason the audit reads its own index by day: a time range across traces is a key range there, where
in the log (keyed by trace) it would be a scan of everything.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from datetime import datetime

from controlplane.adapters.storage.documents import AnyOf, Document, DocumentTables, KeyRange
from controlplane.adapters.storage.purging import delete_documents
from controlplane.domain import audit
from controlplane.domain.audit import EventPage, EventQuery
from controlplane.domain.events import Envelope, format_time
from controlplane.errors import AlreadyExists

TABLE = "EventLog"
OUTBOX = "EventOutbox"
AUDIT = "EventAudit"
_BATCH = 1000  # rows per page: Table storage answers at most 1000


class DocumentEventLog:
    """The EventLog port over any DocumentTables (its tables created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def append_events(self, events: Sequence[Envelope]) -> None:
        """Mark pending, index, then log: a crash before the log leaves a pending mark (the relay appends the
        event again, which completes the index and the log), so an event is never logged unpublished or
        unindexed. A mark created for an event already in the log is the retry of an append whose event was
        published since: it is taken back."""
        for envelope in events:
            document = Document(envelope.traceid, _row(envelope), envelope.to_dict())
            try:
                self._tables.insert(OUTBOX, document)
                marked = True
            except AlreadyExists:
                marked = False  # still pending from an earlier append
            with contextlib.suppress(AlreadyExists):  # indexed by an earlier append
                self._tables.insert(AUDIT, _audit_document(envelope))
            try:
                self._tables.insert(TABLE, document)
            except AlreadyExists:
                if marked:
                    self._tables.delete(OUTBOX, document.partition, document.row)

    def events_for_trace(self, traceid: str, limit: int | None = None) -> list[Envelope]:
        """The trace's partition in row (time) order, read ``limit`` at a time so a capped read stops early."""
        documents = self._tables.scan(TABLE, KeyRange(partition=traceid), batch=min(limit or _BATCH, _BATCH))
        return [Envelope.from_dict(document.body) for document in itertools.islice(documents, limit)]

    def pending_events(self, limit: int, traceid: str | None = None) -> list[Envelope]:
        documents = sorted(
            self._tables.query(OUTBOX, partition=traceid), key=lambda document: (document.partition, document.row)
        )
        return [Envelope.from_dict(document.body) for document in documents[:limit]]

    def mark_published(self, events: Sequence[Envelope]) -> None:
        for envelope in events:
            self._tables.delete(OUTBOX, envelope.traceid, _row(envelope))

    def query_events(self, query: EventQuery) -> EventPage:
        """Day by day, newest first, each day's row range filtered on the index's columns by the service; the
        event itself has the last word (``query.matches``: a ``service`` read through ``manyServices``). One
        match beyond the page is read, so ``next`` is None exactly when nothing more matches."""
        found: list[Envelope] = []
        clauses = _clauses(query)
        for day in query.days():
            first, stop = query.rows(day)
            keys = KeyRange(partition=day, start=first, stop=stop)
            for document in self._tables.scan(AUDIT, keys, clauses, batch=query.limit + 1):
                envelope = Envelope.from_dict(document.body)
                if not query.matches(envelope):
                    continue
                if len(found) == query.limit:
                    return EventPage(found, audit.AuditPosition(day, document.row))
                found.append(envelope)
        return EventPage(found, None)

    def purge_events(self, before: datetime, limit: int) -> int:
        """Oldest day first: the log's rows, then the index's (the index is how the purge finds the log's rows,
        so it goes last: a crash in between leaves index rows the next purge finishes), each a transaction of up
        to 100 rows of a partition (the index's day; the log's trace, when it has several). What is pending in the
        outbox (read once: it holds only what a failed publish left) is kept until it is published."""
        pending = {(mark.partition, mark.row) for mark in self._tables.scan(OUTBOX, KeyRange(stop=format_time(before)))}
        expired = self._tables.scan(AUDIT, KeyRange(partitions_before=audit.day_of(before)), batch=min(limit, 1000))
        indexed: list[tuple[Document, Document]] = []
        for document in expired:
            if len(indexed) == limit:
                break
            envelope = Envelope.from_dict(document.body)
            if (envelope.traceid, _row(envelope)) not in pending:
                indexed.append((document, Document(envelope.traceid, _row(envelope), {})))
        logged = sorted((entry for _, entry in indexed), key=lambda entry: (entry.partition, entry.row))
        delete_documents(self._tables, TABLE, logged, conditional=False)
        delete_documents(self._tables, AUDIT, [document for document, _ in indexed], conditional=False)
        return len(indexed)


def _row(envelope: Envelope) -> str:
    return f"{format_time(envelope.time)}|{envelope.id}"


def _audit_document(envelope: Envelope) -> Document:
    return Document(
        audit.day_of(envelope.time),
        audit.audit_row(envelope.time, envelope.id),
        envelope.to_dict(),
        index=audit.audit_columns(envelope),
    )


def _clauses(query: EventQuery) -> list[AnyOf]:
    """The index columns' part of ``query`` (a superset of its matches: the event is checked after)."""
    clauses = []
    if query.types:
        clauses.append(AnyOf(tuple((audit.TYPE, name) for name in sorted(query.types))))
    if query.environment is not None:
        clauses.append(AnyOf(((audit.ENVIRONMENT, query.environment),)))
    if query.service is not None:
        clauses.append(AnyOf(((audit.SERVICE, query.service), (audit.MANY_SERVICES, True))))
    if query.actor is not None:
        clauses.append(AnyOf(((audit.ACTOR_NAME, query.actor), (audit.ACTOR_OBJECT_ID, query.actor))))
    return clauses
