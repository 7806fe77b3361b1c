"""The listings' indexes written again from the records: ``python -m controlplane reindex``.

Deployments stored before DeploymentIndex existed, and findings before FindingIndex, are in no listing until their
next save; a writer that crashed between a record and its index rows leaves them one save behind. This pass
repairs both, one listing at a time:

1. read the whole index (one scan a table), keeping a digest of each row;
2. read the records ``batch`` at a time; a record whose rows are missing or differ is indexed as a save indexes it
   (its rows written, then the record read again, so a writer saving meanwhile is never overwritten by an older
   version), a batch at a time (the deployments listing's version bumped once a batch, ``listing_cache``);
3. delete the index rows no record has (a finding's row under a status it left), each after reading its record
   again: a row its record has by then is kept.

Idempotent: a second run finds every row as it would write it and writes nothing. Safe while the app runs: every
write is one a save could make. Reads every record and index row once, writes only what differs.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from controlplane.adapters.storage import deployments, findings
from controlplane.adapters.storage.deployment_rows import Partition
from controlplane.adapters.storage.deployment_summaries import INDEX, SERVICE_INDEX, Summary
from controlplane.adapters.storage.documents import Document, DocumentTables, KeyRange
from controlplane.domain.findings import DriftFinding
from controlplane.errors import NotFound

BATCH = 100
Record = TypeVar("Record")
_Place = tuple[str, str, str]  # table, partition, row


@dataclass(frozen=True)
class Reindexed:
    """What a pass over one listing did: records read, records whose rows were written, stray rows deleted."""

    listing: str
    records: int
    rewritten: int
    dropped: int

    def line(self) -> str:
        return (
            f"{self.listing}: {self.records} record(s) read, {self.rewritten} indexed again, "
            f"{self.records - self.rewritten} already indexed, {self.dropped} stray index row(s) deleted"
        )


def reindex(tables: DocumentTables, batch: int = BATCH, progress: Callable[[str], None] = print) -> list[Reindexed]:
    """Both listings' passes; ``progress`` is told each batch written and each listing's totals."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1 (got {batch})")
    deployment_store, finding_store = deployments.DocumentDeployments(tables), findings.DocumentFindings(tables)
    return [
        _Pass[Partition](
            "deployments",
            tables,
            [INDEX, SERVICE_INDEX],
            _summaries,
            deployment_store.reindex,
            lambda place: _drop_deployment_row(tables, deployment_store, place),
        ).run(_partitions(tables), batch, progress),
        _Pass[DriftFinding](
            "findings",
            tables,
            [findings.INDEX],
            lambda finding: [(findings.INDEX, row) for row in findings.index_documents(finding)],
            finding_store.reindex,
            lambda place: finding_store.drop_index_row(place[1], place[2]),
        ).run(_records(tables, findings.TABLE, findings.ROW, DriftFinding.from_dict), batch, progress),
    ]


@dataclass(frozen=True)
class _Pass(Generic[Record]):
    listing: str
    tables: DocumentTables
    index_tables: list[str]
    rows_of: Callable[[Record], list[tuple[str, Document]]]
    write: Callable[[list[Record]], None]
    drop: Callable[[_Place], bool]  # deletes a row no record read had, unless its record has it now; whether it did

    def run(self, records: Iterable[Record], batch: int, progress: Callable[[str], None]) -> Reindexed:
        stored = {
            (table, document.partition, document.row): _digest(document)
            for table in self.index_tables
            for document in self.tables.scan(table, KeyRange())
        }
        expected: set[_Place] = set()
        count, rewritten, pending = 0, 0, list[Record]()
        for record in records:
            count += 1
            rows = self.rows_of(record)
            expected.update((table, row.partition, row.row) for table, row in rows)
            if any(stored.get((table, row.partition, row.row)) != _digest(row) for table, row in rows):
                pending.append(record)
            if len(pending) == batch:
                rewritten += self._flush(pending, rewritten, progress)
        rewritten += self._flush(pending, rewritten, progress)
        dropped = sum(self.drop(place) for place in stored if place not in expected)
        result = Reindexed(self.listing, count, rewritten, dropped)
        progress(result.line())
        return result

    def _flush(self, pending: list[Record], before: int, progress: Callable[[str], None]) -> int:
        """Write the pending records' rows; how many there were."""
        if not pending:
            return 0
        self.write(pending)
        written = len(pending)
        progress(f"{self.listing}: indexed {written} record(s) ({before + written} so far)")
        pending.clear()
        return written


def _records(tables: DocumentTables, table: str, row: str, parse: Callable[..., Record]) -> Iterator[Record]:
    """Every record of ``table`` (its documents under ``row``; other rows of a partition are not records)."""
    for document in tables.scan(table, KeyRange(), batch=BATCH * 10):
        if document.row == row:
            yield parse(document.body, etag=document.etag)


def _partitions(tables: DocumentTables) -> Iterator[Partition]:
    """Every deployment record: a partition of Deployments with its document and its services' rows (a partition
    whose document is gone, rows a crashed delete left, is no record)."""
    documents = tables.scan(deployments.TABLE, KeyRange(), batch=BATCH * 10)
    for partition, rows in itertools.groupby(documents, key=lambda document: document.partition):
        with contextlib.suppress(NotFound):
            yield Partition.of(partition, rows)


def _summaries(stored: Partition) -> list[tuple[str, Document]]:
    """A record's summaries as the index holds them once it is written, each with its table."""
    summary = Summary.of(stored)
    return [(table, summary.document(partition)) for table, partition in summary.places]


def _drop_deployment_row(tables: DocumentTables, store: deployments.DocumentDeployments, place: _Place) -> bool:
    """A deployment index row no record read had: deleted unless its deployment exists now (stored after the
    records were read: then indexed again)."""
    table, partition, row = place
    try:
        store.reindex([store.read_partition(row.partition("|")[2])])
        return False
    except NotFound:
        tables.delete(table, partition, row)
        store.reindex([])  # the listing's version bumped: pages kept with the row are stale
        return True


def _digest(document: Document) -> str:
    """What a row holds, as a short canonical digest (JSON round trips turn tuples into lists)."""
    content = json.dumps([document.body, document.index], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(content.encode()).hexdigest()
