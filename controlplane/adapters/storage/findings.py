"""Drift findings over document tables: PartitionKey=finding id, RowKey="finding", indexed by status.

A page of findings reads every finding of the status asked for (the status is filtered by the table service) and
keeps one page: the key is the finding's id, not the listing's order (first seen). Findings stay few (one per
service and divergence, settled ones replaced under the same id)."""

from __future__ import annotations

from dataclasses import replace

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.domain.findings import DriftFinding, FindingStatus
from controlplane.domain.listing_pages import FindingPage, FindingPosition
from controlplane.domain.paging import DEFAULT_LIMIT

TABLE = "Findings"
ROW = "finding"


class DocumentFindings:
    """The Findings port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def create_finding(self, finding: DriftFinding) -> DriftFinding:
        return replace(finding, etag=self._tables.insert(TABLE, _document(finding)))

    def save_finding(self, finding: DriftFinding) -> DriftFinding:
        return replace(finding, etag=self._tables.replace(TABLE, _document(finding)))

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
        listed = self.list_findings(status)
        if start is not None:
            first = (start.first_seen, start.id)
            listed = [found for found in listed if _key(FindingPosition.of(found)) >= first]
        following = FindingPosition.of(listed[limit]) if len(listed) > limit else None
        return FindingPage(listed[:limit], following)


def _document(finding: DriftFinding) -> Document:
    return Document(finding.id, ROW, finding.to_dict(), index={"status": finding.status.value}, etag=finding.etag)


def _key(position: FindingPosition) -> tuple[str, str]:
    return position.first_seen, position.id
