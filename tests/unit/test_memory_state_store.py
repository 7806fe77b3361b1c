"""The in-memory fakes pass the same contracts as the Table-storage adapters."""

from __future__ import annotations

import pytest

from controlplane.adapters.storage.state_store import DocumentStateStore
from controlplane.testing.memory_documents import MemoryDocumentTables
from tests.contracts.documents import DocumentTablesContract
from tests.contracts.state_store import StateStoreContract


class TestMemoryDocumentTables(DocumentTablesContract):
    @pytest.fixture
    def tables(self) -> MemoryDocumentTables:
        tables = MemoryDocumentTables()
        tables.create_tables(["Things"])
        return tables


class TestMemoryStateStore(StateStoreContract):
    @pytest.fixture
    def store(self) -> DocumentStateStore:
        store = DocumentStateStore(MemoryDocumentTables())
        store.create_tables()
        return store
