"""Deleting many rows: a partition's rows a transaction at a time (``DocumentTables.delete_rows``, 100 a request)
instead of one request a row, for the retention purges."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable

from controlplane.adapters.storage.documents import TRANSACTION_ROWS, Document, DocumentTables
from controlplane.errors import ConcurrencyConflict, NotFound


def delete_documents(tables: DocumentTables, table: str, documents: Iterable[Document], *, conditional: bool) -> int:
    """Delete ``documents`` (consecutive ones of a partition together, up to 100 a transaction); with
    ``conditional``, only the versions read (a row written since is kept). A transaction the service refuses (a
    row gone or changed meanwhile: a concurrent purge, or a writer) is done again row by row. Returns how many
    rows were deleted or were already gone."""
    deleted = 0
    for partition, group in itertools.groupby(documents, key=lambda document: document.partition):
        pending = iter(group)
        while rows := [(d.row, d.etag if conditional else None) for d in itertools.islice(pending, TRANSACTION_ROWS)]:
            try:
                tables.delete_rows(table, partition, rows)
                deleted += len(rows)
                continue
            except (NotFound, ConcurrencyConflict):
                pass
            for row, etag in rows:
                with contextlib.suppress(ConcurrencyConflict):  # written since it was read: it stays
                    tables.delete(table, partition, row, etag)
                    deleted += 1
    return deleted
