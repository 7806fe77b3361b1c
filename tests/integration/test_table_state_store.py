"""The Table-storage adapters against a real Azurite Table service."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage.state_store import DocumentStateStore
from controlplane.bootstrap.azure import table_state_store
from controlplane.config import Settings
from funchost.azurite import Azurite
from tests.builders import deployment
from tests.contracts.documents import DocumentTablesContract
from tests.contracts.state_store import StateStoreContract

pytestmark = pytest.mark.azurite


def _documents(azurite: Azurite, prefix: str) -> AzureTableDocuments:
    return AzureTableDocuments(TableServiceClient.from_connection_string(azurite.connection_string), prefix)


class TestAzureTableDocuments(DocumentTablesContract):
    @pytest.fixture
    def tables(self, azurite: Azurite, table_prefix: str) -> AzureTableDocuments:
        tables = _documents(azurite, table_prefix)
        tables.create_tables(["Things"])
        return tables


class TestTableStateStore(StateStoreContract):
    @pytest.fixture
    def store(self, azurite: Azurite, table_prefix: str) -> DocumentStateStore:
        store = DocumentStateStore(_documents(azurite, table_prefix))
        store.create_tables()
        return store


def test_bootstrap_builds_a_working_store_from_settings(azurite: Azurite, table_prefix: str) -> None:
    settings = Settings.from_environment(
        {"CONTROLPLANE_STORAGE": azurite.connection_string, "CONTROLPLANE_TABLE_PREFIX": table_prefix}
    )
    store = table_state_store(settings)
    store.create_deployment(deployment())
    assert store.get_deployment("dep-1").id == "dep-1"
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    assert f"{table_prefix}Deployments" in {table.name for table in service.list_tables()}
