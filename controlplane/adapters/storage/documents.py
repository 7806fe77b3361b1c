"""The storage primitive under the stored records: JSON documents in keyed tables with ETag concurrency.

Two implementations share one contract (``tests/contracts/documents.py``): Azure Table storage
(:mod:`controlplane.adapters.azure.storage.table_documents`, run on Azurite locally) and memory
(:mod:`controlplane.testing.memory_documents`, the fake for unit tests). The typed stores
(:mod:`controlplane.adapters.storage.stores`, one module per record) are written once on top of this.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

IndexValue = str | int | bool
Group = TypeVar("Group")
Done = TypeVar("Done")
# Transactions of different partitions (or batches of one) sent at once: enough to keep Table storage busy.
WRITERS = 16
# Lost races a conditional read-modify-write retries before it gives up with ConcurrencyConflict.
MAX_UPDATE_ATTEMPTS = 50
# An entity group transaction holds at most 100 operations of one partition and 4 MiB of payload (Azure Table
# storage, "Performing entity group transactions"); the body budget leaves room for the multipart framing.
MAX_TRANSACTION_WRITES = 100
BATCH_BODY_CHARS = 2_000_000


@dataclass(frozen=True)
class Document:
    """A JSON ``body`` stored under (partition, row), with scalar ``index`` columns that can be queried.

    ``etag`` identifies the stored version the document was read as (None before it is stored).
    """

    partition: str
    row: str
    body: Mapping[str, Any]
    index: Mapping[str, IndexValue] = field(default_factory=dict)
    etag: str | None = None


@dataclass(frozen=True)
class KeyRange:
    """Where a :meth:`DocumentTables.scan` reads: one ``partition`` (or every partition, or those before
    ``partitions_before``, or those after ``partitions_after``), rows from ``start`` (inclusive) to ``stop``
    (exclusive); None leaves an end open."""

    partition: str | None = None
    partitions_before: str | None = None
    partitions_after: str | None = None
    start: str | None = None
    stop: str | None = None


@dataclass(frozen=True)
class AnyOf:
    """A scan's clause: true when any of its index columns equals its value. Clauses AND together."""

    equals: tuple[tuple[str, IndexValue], ...]


@dataclass(frozen=True)
class Write:
    """One write of a :meth:`DocumentTables.transact`: ``insert`` (the key must be free), ``replace`` (the version
    ``document.etag`` names), ``upsert`` (unconditional) or ``delete`` (the document must be there; only the
    version ``document.etag`` names, when given; the body is not read)."""

    kind: Literal["insert", "replace", "upsert", "delete"]
    document: Document


def check_transaction(writes: Sequence[Write]) -> None:
    """ValueError unless ``writes`` can be one transaction: 1 to 100 writes, one partition, each row once (Table
    storage refuses the others whole; ``batches`` groups documents within its limits)."""
    if not 1 <= len(writes) <= MAX_TRANSACTION_WRITES:
        raise ValueError(f"a transaction holds 1 to {MAX_TRANSACTION_WRITES} writes (got {len(writes)})")
    if len({write.document.partition for write in writes}) > 1:
        raise ValueError("a transaction writes one partition")
    if len({write.document.row for write in writes}) < len(writes):
        raise ValueError("a transaction writes each row once")
    if any(write.kind == "replace" and write.document.etag is None for write in writes):
        raise ValueError("replace needs the etag of the version that was read")


class DocumentTables(Protocol):
    def create_tables(self, tables: list[str]) -> None:
        """Make sure the tables exist; idempotent."""

    def get(self, table: str, partition: str, row: str) -> Document:
        """The stored document with its etag; NotFound if absent."""

    def insert(self, table: str, document: Document) -> str:
        """Store a new document and return its etag; AlreadyExists if the key is taken."""

    def replace(self, table: str, document: Document) -> str:
        """Overwrite the version ``document.etag`` names; ConcurrencyConflict if it changed, NotFound if gone."""

    def upsert(self, table: str, document: Document) -> str:
        """Insert or overwrite unconditionally; return the new etag."""

    def delete(self, table: str, partition: str, row: str, etag: str | None = None) -> None:
        """Remove a document (only the version ``etag`` names, when given); absent is not an error."""

    def transact(self, table: str, writes: Sequence[Write]) -> list[str]:
        """Apply ``writes`` (``check_transaction``: one partition) all or none, and return each one's new etag in
        order; if one fails, nothing is written and it raises what that write alone would (AlreadyExists,
        ConcurrencyConflict, NotFound)."""

    def query(
        self, table: str, partition: str | None = None, where: Mapping[str, IndexValue] | None = None
    ) -> Iterator[Document]:
        """Documents of one partition (or all) whose index columns equal every ``where`` value."""

    def scan(self, table: str, keys: KeyRange, clauses: Sequence[AnyOf] = (), batch: int = 1000) -> Iterator[Document]:
        """Documents in ``keys``' range satisfying every clause, in (partition, row) key order, read lazily
        ``batch`` at a time: a caller that stops early reads no further (Table storage's primary-key range)."""


def batches(documents: Sequence[Document]) -> Iterator[list[Document]]:
    """``documents`` in groups that one ``transact`` takes: one partition each, at most ``MAX_TRANSACTION_WRITES``
    documents and about ``BATCH_BODY_CHARS`` of body; in their order within each partition."""
    by_partition: dict[str, list[Document]] = {}
    for document in documents:
        by_partition.setdefault(document.partition, []).append(document)
    for group in by_partition.values():
        batch: list[Document] = []
        size = 0
        for document in group:
            chars = len(json.dumps(document.body, separators=(",", ":")))
            if batch and (len(batch) == MAX_TRANSACTION_WRITES or size + chars > BATCH_BODY_CHARS):
                yield batch
                batch, size = [], 0
            batch.append(document)
            size += chars
        yield batch


def each_group(groups: Sequence[Group], write: Callable[[Group], Done], writers: int = WRITERS) -> list[Done]:
    """``write`` of every group (the ``batches`` of one call), ``writers`` at once, results in the groups' order; in
    the caller's context, so the storage calls' spans are children of the caller's. The first error is raised."""
    if len(groups) <= 1:
        return [write(group) for group in groups]
    with ThreadPoolExecutor(min(len(groups), writers), thread_name_prefix="table-writes") as pool:
        started = [pool.submit(contextvars.copy_context().run, write, group) for group in groups]
        return [future.result() for future in started]
