"""Deleting many rows: a partition's rows a transaction at a time (``DocumentTables.transact``, 100 a request)
instead of one request a row, several partitions at once: the retention purges, the event outbox's unmarking."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from controlplane.adapters.storage.documents import MAX_TRANSACTION_WRITES, Document, DocumentTables, Write
from controlplane.errors import ConcurrencyConflict, NotFound

# Transactions in flight at once: the deletes of different partitions are independent, and a purge is bound by
# round trips (one partition a trace: the event log's rows rarely share one), not by the table service.
CONCURRENCY = 8

Rows = list[tuple[str, str | None]]


def delete_documents(tables: DocumentTables, table: str, documents: Iterable[Document], *, conditional: bool) -> int:
    """Delete ``documents`` (consecutive ones of a partition together, up to 100 a transaction, ``CONCURRENCY``
    transactions at once); with ``conditional``, only the versions read (a row written since is kept). A
    transaction the service refuses (a row gone or changed meanwhile: a concurrent purge, or a writer) is done
    again row by row. Returns how many rows were deleted or were already gone. Every delete has ended when it
    returns, so a caller may delete what depends on these rows next."""
    transactions: list[tuple[str, Rows]] = []
    for partition, group in itertools.groupby(documents, key=lambda document: document.partition):
        pending = iter(group)
        batch = MAX_TRANSACTION_WRITES
        while rows := [(d.row, d.etag if conditional else None) for d in itertools.islice(pending, batch)]:
            transactions.append((partition, rows))
    if len(transactions) <= 1:
        return sum(_delete(tables, table, partition, rows) for partition, rows in transactions)
    with ThreadPoolExecutor(min(CONCURRENCY, len(transactions))) as pool:
        return sum(pool.map(lambda transaction: _delete(tables, table, *transaction), transactions))


def _delete(tables: DocumentTables, table: str, partition: str, rows: Rows) -> int:
    try:
        tables.transact(table, [Write("delete", Document(partition, row, {}, etag=etag)) for row, etag in rows])
        return len(rows)
    except (NotFound, ConcurrencyConflict):
        pass
    deleted = 0
    for row, etag in rows:
        with contextlib.suppress(ConcurrencyConflict):  # written since it was read: it stays
            tables.delete(table, partition, row, etag)
            deleted += 1
    return deleted
