"""The in-memory fakes pass the same contracts as the Table-storage adapters."""

from __future__ import annotations

import pytest

from controlplane.adapters.memory_documents import MemoryDocumentTables
from controlplane.adapters.state_store import DocumentStateStore
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
