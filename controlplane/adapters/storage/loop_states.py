"""Loop state over document tables: PartitionKey=loop, RowKey=key (a loop's memory of one service)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from controlplane.adapters.storage.documents import Document, DocumentTables, KeyRange, Write, batches, each_group
from controlplane.domain.loops import LoopRecord
from controlplane.domain.shards import Shard
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound

TABLE = "LoopState"


class DocumentLoopStates:
    """The LoopStates port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def get_loop_state(self, loop: str, key: str) -> LoopRecord | None:
        try:
            document = self._tables.get(TABLE, loop, key)
        except NotFound:
            return None
        return LoopRecord(loop, key, document.body, etag=document.etag)

    def put_loop_state(self, record: LoopRecord) -> LoopRecord:
        document = _document(record)
        if record.etag is None:
            try:
                etag = self._tables.insert(TABLE, document)
            except AlreadyExists as error:
                raise ConcurrencyConflict(f"{record.loop}/{record.key} was stored meanwhile") from error
        else:
            try:
                etag = self._tables.replace(TABLE, document)
            except NotFound as error:
                raise ConcurrencyConflict(f"{record.loop}/{record.key} was removed meanwhile") from error
        return replace(record, etag=etag)

    def put_loop_states(self, records: Sequence[LoopRecord]) -> list[LoopRecord | None]:
        """A transaction per hundred records of a loop (its partition), several at once; a transaction refused for a
        lost race is written again record by record, so only the records that lost are None."""
        documents = [_document(record) for record in records]
        stored: dict[tuple[str, str], LoopRecord | None] = {}
        for written in each_group(list(batches(documents)), self._put_group):
            stored.update(written)
        return [stored[(record.loop, record.key)] for record in records]

    def _put_group(self, group: list[Document]) -> dict[tuple[str, str], LoopRecord | None]:
        records = [LoopRecord(document.partition, document.row, document.body, document.etag) for document in group]
        try:
            writes = [Write("insert" if d.etag is None else "replace", d) for d in group]
            etags = self._tables.transact(TABLE, writes)
        except (AlreadyExists, ConcurrencyConflict, NotFound):
            return {(record.loop, record.key): self._put_or_lost(record) for record in records}
        return {(r.loop, r.key): replace(r, etag=etag) for r, etag in zip(records, etags, strict=True)}

    def _put_or_lost(self, record: LoopRecord) -> LoopRecord | None:
        try:
            return self.put_loop_state(record)
        except ConcurrencyConflict:
            return None

    def list_loop_states(self, loop: str, shard: Shard | None = None) -> list[LoopRecord]:
        if shard is None:
            documents = self._tables.query(TABLE, partition=loop)
        else:
            # Keys are "environment/service"; the range's end past the environment's last service is "/~" (after
            # every character a service name may hold), and what a key range cannot say exactly, ``holds`` does.
            prefix = f"{shard.environment}/"
            stop = prefix + (shard.stop if shard.stop is not None else "~")
            documents = self._tables.scan(TABLE, KeyRange(partition=loop, start=prefix + shard.first, stop=stop))
        records = [LoopRecord(loop, d.row, d.body, etag=d.etag) for d in documents]
        if shard is not None:
            records = [record for record in records if shard.holds(*record.key.split("/", 1))]
        return sorted(records, key=lambda record: record.key)


def _document(record: LoopRecord) -> Document:
    return Document(record.loop, record.key, dict(record.body), etag=record.etag)
