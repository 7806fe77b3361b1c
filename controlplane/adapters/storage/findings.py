"""Drift findings over document tables, and the index their listing reads.

    Findings      PartitionKey=finding id        RowKey="finding"            the record; index column status
    FindingIndex  PartitionKey=status, and "*"   RowKey=firstSeen|id         the finding, once under its status
                                                                             and once under "*" (every status)

The listing is oldest first (first seen, then id), so a page is one key range of one partition of the index, read
from where the page starts and stopped after ``limit + 1`` rows (the extra one is where the next page starts).

A finding's index rows move when its status changes (and when a settled finding is seen again under the same id,
with a new first-seen time), so a write of the record is followed by writing the new rows and deleting the rows of
the version it replaced that the new one does not have; then the record is read again, and a writer whose record was
overtaken meanwhile does the same for the newer version, against the rows it wrote itself. So the last writer
leaves the index as the record is. A crash between the record and its rows leaves them one save behind until the
next save of the finding (``python -m controlplane reindex`` repairs them, ``reindex``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace

from controlplane.adapters.storage.documents import MAX_UPDATE_ATTEMPTS, Document, DocumentTables, KeyRange
from controlplane.domain.findings import DriftFinding, FindingStatus
from controlplane.domain.listing_pages import FindingPage, FindingPosition
from controlplane.domain.paging import DEFAULT_LIMIT
from controlplane.errors import ConcurrencyConflict, NotFound

TABLE = "Findings"
INDEX = "FindingIndex"
ROW = "finding"
EVERY = "*"


class DocumentFindings:
    """The Findings port over any DocumentTables (its tables created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def create_finding(self, finding: DriftFinding) -> DriftFinding:
        created = replace(finding, etag=self._tables.insert(TABLE, _document(finding)))
        self._index(created, None)
        return created

    def save_finding(self, finding: DriftFinding) -> DriftFinding:
        replaced = self.get_finding(finding.id)  # whose index rows the new version's take the place of
        if replaced.etag != finding.etag:
            raise ConcurrencyConflict(f"finding {finding.id}: changed since it was read")
        saved = replace(finding, etag=self._tables.replace(TABLE, _document(finding)))
        self._index(saved, replaced)
        return saved

    def get_finding(self, finding_id: str) -> DriftFinding:
        document = self._tables.get(TABLE, finding_id, ROW)
        return DriftFinding.from_dict(document.body, etag=document.etag)

    def list_findings(self, status: FindingStatus | None = None) -> list[DriftFinding]:
        where = {"status": status.value} if status else None
        findings = [
            DriftFinding.from_dict(document.body, etag=document.etag)
            for document in self._tables.query(TABLE, where=where)
        ]
        return sorted(findings, key=lambda finding: (finding.first_seen, finding.id))

    def page_findings(
        self, status: FindingStatus | None = None, limit: int = DEFAULT_LIMIT, start: FindingPosition | None = None
    ) -> FindingPage:
        keys = KeyRange(partition=status.value if status else EVERY, start=index_row(start) if start else None)
        found = [
            DriftFinding.from_dict(document.body)
            for document in itertools.islice(self._tables.scan(INDEX, keys, batch=limit + 1), limit + 1)
        ]
        following = FindingPosition.of(found[limit]) if len(found) > limit else None
        return FindingPage(found[:limit], following)

    def reindex(self, findings: Iterable[DriftFinding]) -> None:
        """Write the index rows of stored ``findings`` as a save would (``reindex``)."""
        for finding in findings:
            self._index(finding, None)

    def drop_index_row(self, partition: str, row: str) -> bool:
        """Delete an index row no stored finding had (``reindex``), then read the finding it names again and write
        its rows, in case a save made the row its own meanwhile; whether the row is gone."""
        self._tables.delete(INDEX, partition, row)
        try:
            current = self.get_finding(row.partition("|")[2])
        except NotFound:
            return True
        self._index(current, None)
        return (partition, row) not in {(document.partition, document.row) for document in index_documents(current)}

    def _index(self, finding: DriftFinding, replaced: DriftFinding | None) -> None:
        for _ in range(MAX_UPDATE_ATTEMPTS):
            rows = index_documents(finding)
            for document in rows:
                self._tables.upsert(INDEX, document)
            kept = {(document.partition, document.row) for document in rows}
            if replaced is not None:
                for document in index_documents(replaced):
                    if (document.partition, document.row) not in kept:
                        self._tables.delete(INDEX, document.partition, document.row)
            stored = self.get_finding(finding.id)
            if stored.etag == finding.etag:
                return
            finding, replaced = stored, finding
        # Still overtaken: writers keep saving, and the last of them indexes its own version after it.


def index_row(position: FindingPosition) -> str:
    """The index's row key of a finding: when it was first seen (``format_time`` sorts as it reads), then its id."""
    return f"{position.first_seen}|{position.id}"


def index_documents(finding: DriftFinding) -> list[Document]:
    """The finding's rows in the index: under its status and under every status."""
    row = index_row(FindingPosition.of(finding))
    return [Document(partition, row, finding.to_dict()) for partition in (finding.status.value, EVERY)]


def _document(finding: DriftFinding) -> Document:
    return Document(finding.id, ROW, finding.to_dict(), index={"status": finding.status.value}, etag=finding.etag)
