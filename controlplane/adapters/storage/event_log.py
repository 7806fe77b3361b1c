"""The event log over document tables, with its outbox of events pending publish and its audit index.

    EventLog     PartitionKey=traceid  RowKey=time|event id            every envelope emitted (time order per trace)
    EventOutbox  PartitionKey=UTC day  RowKey=time|event id            the envelopes not yet published (TraceId column)
    EventAudit   PartitionKey=UTC day  RowKey=inverted time|event id   every envelope, newest first per day, with
                                                                       the columns the audit filters on

The pending mark is a row of its own table rather than a column of the log, so the relay reads only what
is pending: on Azure Table storage a filter on a non-key column scans the whole (ever growing) log. For the
same reason the audit reads its own index by day: a time range across traces is a key range there, where
in the log (keyed by trace) it would be a scan of everything. The outbox is keyed by day, not by trace, so
that the events of one loop tick (a trace per service) are marked and unmarked a hundred per transaction; it
holds only what is pending, so reading one trace's marks by its column stays small.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from datetime import datetime

from controlplane.adapters.storage.documents import (
    AnyOf,
    Document,
    DocumentTables,
    KeyRange,
    Write,
    batches,
    each_group,
)
from controlplane.adapters.storage.purging import delete_documents
from controlplane.domain import audit
from controlplane.domain.audit import EventPage, EventQuery
from controlplane.domain.events import Envelope, format_time
from controlplane.errors import AlreadyExists

TABLE = "EventLog"
OUTBOX = "EventOutbox"
AUDIT = "EventAudit"
TRACE_ID = "TraceId"  # the outbox's column of the event's trace
_BATCH = 1000  # rows per page: Table storage answers at most 1000


class DocumentEventLog:
    """The EventLog port over any DocumentTables (its tables created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def append_events(self, events: Sequence[Envelope]) -> None:
        """Mark pending, index, then log, each table's rows in transactions of one partition: a crash before
        the log leaves the pending marks (the relay appends those events again, which completes the index and
        the log), so an event is never logged unpublished or unindexed. A mark created for an event already in
        the log is the retry of an append whose event was published since: it is taken back."""
        unique = list({(envelope.traceid, envelope.id): envelope for envelope in events}.values())
        marks = [outbox_mark(envelope) for envelope in unique]
        marked = self._insert_new(OUTBOX, marks)
        self._insert_new(AUDIT, [_audit_document(envelope) for envelope in unique])
        entries = [Document(envelope.traceid, _row(envelope), envelope.to_dict()) for envelope in unique]
        logged = self._insert_new(TABLE, entries)
        taken_back = [
            mark
            for mark, entry in zip(marks, entries, strict=True)
            if _key(mark) in marked and _key(entry) not in logged
        ]
        self._delete(OUTBOX, taken_back)

    def events_for_trace(self, traceid: str, limit: int | None = None) -> list[Envelope]:
        """The trace's partition in row (time) order, read ``limit`` at a time so a capped read stops early."""
        documents = self._tables.scan(TABLE, KeyRange(partition=traceid), batch=min(limit or _BATCH, _BATCH))
        return [Envelope.from_dict(document.body) for document in itertools.islice(documents, limit)]

    def pending_events(self, limit: int, traceid: str | None = None) -> list[Envelope]:
        """The outbox holds only what is pending, so reading all of it (or its rows of one trace) stays small."""
        where = None if traceid is None else {TRACE_ID: traceid}
        envelopes = [Envelope.from_dict(document.body) for document in self._tables.query(OUTBOX, where=where)]
        return sorted(envelopes, key=lambda envelope: (envelope.traceid, _row(envelope)))[:limit]

    def mark_published(self, events: Sequence[Envelope]) -> None:
        self._delete(OUTBOX, [outbox_mark(envelope) for envelope in events])

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
        days = KeyRange(partitions_before=audit.day_of(before))
        pending = {(mark.partition, mark.row) for mark in self._tables.scan(OUTBOX, days)}
        expired = self._tables.scan(AUDIT, days, batch=min(limit, 1000))
        indexed: list[tuple[Document, Document]] = []
        for document in expired:
            if len(indexed) == limit:
                break
            envelope = Envelope.from_dict(document.body)
            if _key(outbox_mark(envelope)) not in pending:
                indexed.append((document, Document(envelope.traceid, _row(envelope), {})))
        logged = sorted((entry for _, entry in indexed), key=lambda entry: (entry.partition, entry.row))
        delete_documents(self._tables, TABLE, logged, conditional=False)
        delete_documents(self._tables, AUDIT, [document for document, _ in indexed], conditional=False)
        return len(indexed)

    def _insert_new(self, table: str, documents: Sequence[Document]) -> set[tuple[str, str]]:
        """Insert what is not stored yet, a partition's documents in one transaction where none is stored (the
        usual case) and one by one where some are (a retry); the groups concurrently (a tick's events are a
        trace, a partition of the log, per service). The keys this call inserted."""
        return set().union(*each_group(list(batches(documents)), lambda group: self._insert_group(table, group)))

    def _insert_group(self, table: str, batch: list[Document]) -> set[tuple[str, str]]:
        if len(batch) > 1:
            try:
                self._tables.transact(table, [Write("insert", document) for document in batch])
                return {_key(document) for document in batch}
            except AlreadyExists:
                pass  # some are stored: insert the others one at a time
        inserted: set[tuple[str, str]] = set()
        for document in batch:
            with contextlib.suppress(AlreadyExists):
                self._tables.insert(table, document)
                inserted.add(_key(document))
        return inserted

    def _delete(self, table: str, documents: Sequence[Document]) -> None:
        in_order = sorted(documents, key=lambda document: (document.partition, document.row))
        delete_documents(self._tables, table, in_order, conditional=False)


def _key(document: Document) -> tuple[str, str]:
    return document.partition, document.row


def outbox_mark(envelope: Envelope) -> Document:
    """The outbox's row of a pending event (what a crashed append leaves): by UTC day, so one tick's events share
    a partition (a transaction per hundred); the trace is a column, read by the journal's publish of one trace."""
    return Document(audit.day_of(envelope.time), _row(envelope), envelope.to_dict(), index={TRACE_ID: envelope.traceid})


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
