"""What the host keeps in Table storage: keyed JSON entities with ETag concurrency.

The durable store, the Service Bus emulator and the timers each keep their records as :class:`Entity` rows
of :class:`Tables`: Azure Table storage (:mod:`funchost.storage.azure_tables`, Azurite locally) or memory
(:mod:`funchost.storage.memory_tables`, for unit tests); both pass one contract suite.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

IndexValue = str | int | bool


@dataclass(frozen=True)
class Entity:
    """A JSON ``body`` under (partition, row), with scalar ``index`` properties that queries can match.

    ``etag`` names the stored version the entity was read as (None before it is stored).
    """

    partition: str
    row: str
    body: Mapping[str, Any]
    index: Mapping[str, IndexValue] = field(default_factory=dict)
    etag: str | None = None


class Tables(Protocol):
    """Named tables of entities. Errors are the host's: NotFound, AlreadyExists, ConcurrencyConflict,
    TransientError (worth retrying) and PermanentError."""

    def create_tables(self, tables: list[str]) -> None:
        """Make sure the tables exist; idempotent."""

    def get(self, table: str, partition: str, row: str) -> Entity:
        """The stored entity with its etag; NotFound if absent."""

    def insert(self, table: str, entity: Entity) -> str:
        """Store a new entity and return its etag; AlreadyExists if the key is taken."""

    def replace(self, table: str, entity: Entity) -> str:
        """Overwrite the version ``entity.etag`` names; ConcurrencyConflict if it changed, NotFound if gone."""

    def upsert(self, table: str, entity: Entity) -> str:
        """Insert or overwrite unconditionally; return the new etag."""

    def delete(self, table: str, partition: str, row: str) -> None:
        """Remove an entity; absent is not an error."""

    def query(
        self, table: str, partition: str | None = None, where: Mapping[str, IndexValue] | None = None
    ) -> Iterator[Entity]:
        """Entities of one partition (or all) whose index properties equal every ``where`` value."""
