"""The host's tables in memory: the twin of :mod:`funchost.storage.azure_tables` for unit tests, held to the
same contract."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace

from funchost.errors import AlreadyExists, ConcurrencyConflict, NotFound
from funchost.storage.tables import Entity, IndexValue


class MemoryTables:
    def __init__(self) -> None:
        self._tables: dict[str, dict[tuple[str, str], Entity]] = {}
        self._lock = threading.Lock()
        self._versions = itertools.count(1)

    def create_tables(self, tables: list[str]) -> None:
        with self._lock:
            for table in tables:
                self._tables.setdefault(table, {})

    def get(self, table: str, partition: str, row: str) -> Entity:
        with self._lock:
            stored = self._table(table).get((partition, row))
            if stored is None:
                raise NotFound(f"{table}: no entity {partition}/{row}")
            return copy.deepcopy(stored)

    def insert(self, table: str, entity: Entity) -> str:
        with self._lock:
            rows = self._table(table)
            if (entity.partition, entity.row) in rows:
                raise AlreadyExists(f"{table}: {entity.partition}/{entity.row} exists")
            return self._store(rows, entity)

    def replace(self, table: str, entity: Entity) -> str:
        with self._lock:
            rows = self._table(table)
            stored = rows.get((entity.partition, entity.row))
            if stored is None:
                raise NotFound(f"{table}: no entity {entity.partition}/{entity.row}")
            if stored.etag != entity.etag:
                raise ConcurrencyConflict(f"{table}: {entity.partition}/{entity.row} changed since it was read")
            return self._store(rows, entity)

    def upsert(self, table: str, entity: Entity) -> str:
        with self._lock:
            return self._store(self._table(table), entity)

    def delete(self, table: str, partition: str, row: str) -> None:
        with self._lock:
            self._table(table).pop((partition, row), None)

    def query(
        self, table: str, partition: str | None = None, where: Mapping[str, IndexValue] | None = None
    ) -> Iterator[Entity]:
        conditions = dict(where or {})
        with self._lock:
            matches = [
                copy.deepcopy(entity)
                for (stored_partition, _), entity in sorted(self._table(table).items())
                if (partition is None or stored_partition == partition)
                and all(entity.index.get(name) == value for name, value in conditions.items())
            ]
        return iter(matches)

    def _table(self, table: str) -> dict[tuple[str, str], Entity]:
        if table not in self._tables:
            raise NotFound(f"table {table} does not exist")
        return self._tables[table]

    def _store(self, rows: dict[tuple[str, str], Entity], entity: Entity) -> str:
        etag = f'W/"{next(self._versions)}"'
        rows[(entity.partition, entity.row)] = replace(copy.deepcopy(entity), etag=etag)
        return etag
