"""Document tables that count what is asked of them: how tests and benchmarks see a loop's table cost.

Every call is one operation (a point read or write, a transaction however many writes it holds, or one query or
scan however many rows it returns); rows read counts the documents point reads, queries and scans hand back. Table
storage pages a query at 1,000 entities, so a query is one request per 1,000 rows read: both figures matter.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from controlplane.adapters.storage.documents import AnyOf, Document, DocumentTables, IndexValue, KeyRange, Write


class CountingDocumentTables:
    """Any DocumentTables, counting operations by kind (``operations``) and rows read (``rows_read``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables
        self._lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        self.rows_read = 0

    def reset(self) -> None:
        with self._lock:
            self.operations.clear()
            self.rows_read = 0

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.operations.values())

    def create_tables(self, tables: list[str]) -> None:
        self._tables.create_tables(tables)

    def get(self, table: str, partition: str, row: str) -> Document:
        self._count("get")
        document = self._tables.get(table, partition, row)
        self._read(1)
        return document

    def insert(self, table: str, document: Document) -> str:
        self._count("insert")
        return self._tables.insert(table, document)

    def replace(self, table: str, document: Document) -> str:
        self._count("replace")
        return self._tables.replace(table, document)

    def upsert(self, table: str, document: Document) -> str:
        self._count("upsert")
        return self._tables.upsert(table, document)

    def delete(self, table: str, partition: str, row: str, etag: str | None = None) -> None:
        self._count("delete")
        self._tables.delete(table, partition, row, etag)

    def transact(self, table: str, writes: Sequence[Write]) -> list[str]:
        self._count("transact")  # one request to Table storage, however many writes it holds
        return self._tables.transact(table, writes)

    def query(
        self, table: str, partition: str | None = None, where: Mapping[str, IndexValue] | None = None
    ) -> Iterator[Document]:
        self._count("query")
        return self._counted(self._tables.query(table, partition, where))

    def scan(self, table: str, keys: KeyRange, clauses: Sequence[AnyOf] = (), batch: int = 1000) -> Iterator[Document]:
        self._count("scan")
        return self._counted(self._tables.scan(table, keys, clauses, batch))

    def _counted(self, documents: Iterator[Document]) -> Iterator[Document]:
        for document in documents:
            self._read(1)
            yield document

    def _count(self, kind: str) -> None:
        with self._lock:
            self.operations[kind] += 1

    def _read(self, rows: int) -> None:
        with self._lock:
            self.rows_read += rows
