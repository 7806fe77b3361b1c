"""The service catalog over document tables: PartitionKey=environment, RowKey=service; last writer wins."""

from __future__ import annotations

from dataclasses import replace

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.domain.catalog import CatalogEntry

TABLE = "Catalog"


class DocumentCatalog:
    """The Catalog port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def put_catalog_entry(self, entry: CatalogEntry) -> CatalogEntry:
        document = Document(entry.environment, entry.service, entry.to_dict())
        return replace(entry, etag=self._tables.upsert(TABLE, document))

    def get_catalog_entry(self, environment: str, service: str) -> CatalogEntry:
        document = self._tables.get(TABLE, environment, service)
        return CatalogEntry.from_dict(document.body, etag=document.etag)

    def list_catalog(self, environment: str | None = None) -> list[CatalogEntry]:
        entries = [
            CatalogEntry.from_dict(document.body, etag=document.etag)
            for document in self._tables.query(TABLE, partition=environment)
        ]
        return sorted(entries, key=lambda entry: (entry.environment, entry.service))
