"""In-memory document tables: the fake behind unit tests, held to the same contract as Azure Tables."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

from controlplane.adapters.storage.documents import (
    AnyOf,
    Document,
    IndexValue,
    KeyRange,
    Write,
    check_transaction,
)
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound


class MemoryDocumentTables:
    def __init__(self) -> None:
        self._tables: dict[str, dict[tuple[str, str], Document]] = {}
        self._lock = threading.Lock()
        self._versions = itertools.count(1)

    def create_tables(self, tables: list[str]) -> None:
        with self._lock:
            for table in tables:
                self._tables.setdefault(table, {})

    def get(self, table: str, partition: str, row: str) -> Document:
        with self._lock:
            stored = self._table(table).get((partition, row))
            if stored is None:
                raise NotFound(f"{table}: no document {partition}/{row}")
            return copy.deepcopy(stored)

    def insert(self, table: str, document: Document) -> str:
        with self._lock:
            rows = self._table(table)
            if (document.partition, document.row) in rows:
                raise AlreadyExists(f"{table}: {document.partition}/{document.row} exists")
            return self._store(rows, document)

    def replace(self, table: str, document: Document) -> str:
        with self._lock:
            rows = self._table(table)
            stored = rows.get((document.partition, document.row))
            if stored is None:
                raise NotFound(f"{table}: no document {document.partition}/{document.row}")
            if stored.etag != document.etag:
                raise ConcurrencyConflict(f"{table}: {document.partition}/{document.row} changed since read")
            return self._store(rows, document)

    def upsert(self, table: str, document: Document) -> str:
        with self._lock:
            return self._store(self._table(table), document)

    def delete(self, table: str, partition: str, row: str, etag: str | None = None) -> None:
        with self._lock:
            rows = self._table(table)
            stored = rows.get((partition, row))
            if stored is None:
                return
            if etag is not None and stored.etag != etag:
                raise ConcurrencyConflict(f"{table}: {partition}/{row} changed since read")
            del rows[(partition, row)]

    def transact(self, table: str, writes: Sequence[Write]) -> list[str]:
        check_transaction(writes)
        with self._lock:
            rows = self._table(table)
            for write in writes:  # every condition holds before anything is written: all or none
                key = (write.document.partition, write.document.row)
                stored = rows.get(key)
                if write.kind == "insert" and stored is not None:
                    raise AlreadyExists(f"{table}: {key[0]}/{key[1]} exists")
                if write.kind in ("replace", "delete") and stored is None:
                    raise NotFound(f"{table}: no document {key[0]}/{key[1]}")
                etag = write.document.etag
                if write.kind in ("replace", "delete") and stored is not None and etag not in (None, stored.etag):
                    raise ConcurrencyConflict(f"{table}: {key[0]}/{key[1]} changed since read")
            etags = []
            for write in writes:
                if write.kind == "delete":
                    del rows[(write.document.partition, write.document.row)]
                    etags.append("")
                else:
                    etags.append(self._store(rows, write.document))
            return etags

    def query(
        self, table: str, partition: str | None = None, where: Mapping[str, IndexValue] | None = None
    ) -> Iterator[Document]:
        conditions = dict(where or {})
        with self._lock:
            matches = [
                copy.deepcopy(document)
                for (stored_partition, _), document in sorted(self._table(table).items())
                if (partition is None or stored_partition == partition)
                and all(document.index.get(name) == value for name, value in conditions.items())
            ]
        return iter(matches)

    def scan(self, table: str, keys: KeyRange, clauses: Sequence[AnyOf] = (), batch: int = 1000) -> Iterator[Document]:
        with self._lock:
            matches = [
                copy.deepcopy(document)
                for (partition, row), document in sorted(self._table(table).items())
                if _in_range(keys, partition, row)
                and all(any(document.index.get(name) == value for name, value in clause.equals) for clause in clauses)
            ]
        return iter(matches)

    def _table(self, table: str) -> dict[tuple[str, str], Document]:
        if table not in self._tables:
            raise NotFound(f"table {table} does not exist")
        return self._tables[table]

    def _store(self, rows: dict[tuple[str, str], Document], document: Document) -> str:
        etag = f'W/"{next(self._versions)}"'
        rows[(document.partition, document.row)] = replace(copy.deepcopy(document), etag=etag)
        return etag


def _in_range(keys: KeyRange, partition: str, row: str) -> bool:
    return (
        (keys.partition is None or partition == keys.partition)
        and (keys.partitions_before is None or partition < keys.partitions_before)
        and (keys.partitions_after is None or partition > keys.partitions_after)
        and (keys.start is None or row >= keys.start)
        and (keys.stop is None or row < keys.stop)
    )


def memory_stores() -> Stores:
    """Every stored record over fresh in-memory document tables, their tables created: the unit tests' store."""
    tables = MemoryDocumentTables()
    create_tables(tables)
    return Stores.over(tables)
