"""The host's in-memory tables pass the host's Tables contract."""

from __future__ import annotations

import pytest

from funchost.storage.memory_tables import MemoryTables
from funchost.tests.contracts.tables import TablesContract


class TestMemoryTables(TablesContract):
    @pytest.fixture
    def tables(self) -> MemoryTables:
        tables = MemoryTables()
        tables.create_tables(["Things"])
        return tables
