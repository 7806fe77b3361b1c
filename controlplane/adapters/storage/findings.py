"""Drift findings over document tables: PartitionKey=finding id, RowKey="finding", indexed by status."""

from __future__ import annotations

from dataclasses import replace

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.domain.findings import DriftFinding, FindingStatus

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


def _document(finding: DriftFinding) -> Document:
    return Document(finding.id, ROW, finding.to_dict(), index={"status": finding.status.value}, etag=finding.etag)
