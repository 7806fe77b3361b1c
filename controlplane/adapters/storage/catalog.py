"""The service catalog over document tables: PartitionKey=environment, RowKey=service; last writer wins. Key order
is the listing's order (environment, then service), so a page is a key range."""

from __future__ import annotations

import itertools
from dataclasses import replace

from controlplane.adapters.storage.documents import Document, DocumentTables, KeyRange
from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.listing_pages import CatalogPage, ServicePosition
from controlplane.domain.paging import DEFAULT_LIMIT
from controlplane.domain.shards import Shard

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

    def list_shard(self, shard: Shard) -> list[CatalogEntry]:
        keys = KeyRange(partition=shard.environment, start=shard.first, stop=shard.stop)
        return [
            CatalogEntry.from_dict(document.body, etag=document.etag) for document in self._tables.scan(TABLE, keys)
        ]

    def page_catalog(
        self, environment: str | None = None, limit: int = DEFAULT_LIMIT, start: ServicePosition | None = None
    ) -> CatalogPage:
        """The start's environment from its service on, then the environments after it (just the one asked for,
        when ``environment`` is given); ``limit + 1`` entries at most: the extra one starts the next page."""
        if start is not None and environment is not None and start.environment != environment:
            return CatalogPage([], None)  # a token of another environment's listing starts nothing here
        if start is None:
            ranges = [KeyRange(partition=environment)]
        else:
            ranges = [KeyRange(partition=start.environment, start=start.service)]
            if environment is None:
                ranges.append(KeyRange(partitions_after=start.environment))
        documents = itertools.chain.from_iterable(self._tables.scan(TABLE, keys, batch=limit + 1) for keys in ranges)
        entries = [
            CatalogEntry.from_dict(document.body, etag=document.etag)
            for document in itertools.islice(documents, limit + 1)
        ]
        following = ServicePosition(entries[-1].environment, entries[-1].service) if len(entries) > limit else None
        return CatalogPage(entries[:limit], following)
