"""Quarantined images over document tables: PartitionKey=environment, RowKey=service|image."""

from __future__ import annotations

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.domain.loops import QuarantinedImage
from controlplane.errors import NotFound

TABLE = "Quarantine"


class DocumentQuarantine:
    """The Quarantine port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def quarantine(self, image: QuarantinedImage) -> None:
        self._tables.upsert(TABLE, Document(image.environment, _row(image.key), image.to_dict()))

    def lift_quarantine(self, environment: str, service: str, image: str) -> bool:
        row = _row((environment, service, image))
        try:
            self._tables.get(TABLE, environment, row)
        except NotFound:
            return False
        self._tables.delete(TABLE, environment, row)
        return True

    def quarantined(self, environment: str | None = None) -> list[QuarantinedImage]:
        images = [QuarantinedImage.from_dict(d.body) for d in self._tables.query(TABLE, partition=environment)]
        return sorted(images, key=lambda image: image.key)


def _row(key: tuple[str, str, str]) -> str:
    # Table keys may not contain "/"; image references always do (and never "%", so this is one-to-one).
    _, service, image = key
    return f"{service}|{image}".replace("/", "%2F")
