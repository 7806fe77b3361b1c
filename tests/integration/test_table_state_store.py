"""The Table-storage adapters against a real Azurite Table service."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.bootstrap.azure import table_stores
from controlplane.config import Settings
from funchost.azurite import Azurite
from tests.builders import deployment
from tests.contracts.documents import DocumentTablesContract
from tests.contracts.records.catalog import CatalogContract
from tests.contracts.records.claims import ClaimsContract
from tests.contracts.records.deployment_pages import DeploymentPagesContract
from tests.contracts.records.deployment_retention import DeploymentRetentionContract
from tests.contracts.records.deployments import DeploymentsContract
from tests.contracts.records.event_log import EventLogContract
from tests.contracts.records.findings import FindingsContract
from tests.contracts.records.loop_states import LoopStatesContract
from tests.contracts.records.processed_events import ProcessedEventsContract, ProcessedEventsUpgradeContract
from tests.contracts.records.quarantine import QuarantineContract
from tests.contracts.records.service_progress import ServiceProgressContract

pytestmark = pytest.mark.azurite


def _documents(azurite: Azurite, prefix: str) -> AzureTableDocuments:
    return AzureTableDocuments(TableServiceClient.from_connection_string(azurite.connection_string), prefix)


class TestAzureTableDocuments(DocumentTablesContract):
    @pytest.fixture
    def tables(self, azurite: Azurite, table_prefix: str) -> AzureTableDocuments:
        tables = _documents(azurite, table_prefix)
        tables.create_tables(["Things"])
        return tables


class OnAzurite:
    @pytest.fixture
    def tables(self, azurite: Azurite, table_prefix: str) -> AzureTableDocuments:
        tables = _documents(azurite, table_prefix)
        create_tables(tables)
        return tables

    @pytest.fixture
    def stores(self, tables: AzureTableDocuments) -> Stores:
        return Stores.over(tables)


class TestTableDeployments(OnAzurite, DeploymentsContract):
    pass


class TestTableDeploymentPages(OnAzurite, DeploymentPagesContract):
    pass


class TestTableServiceProgress(OnAzurite, ServiceProgressContract):
    pass


class TestTableCatalog(OnAzurite, CatalogContract):
    pass


class TestTableFindings(OnAzurite, FindingsContract):
    pass


class TestTableLoopStates(OnAzurite, LoopStatesContract):
    pass


class TestTableQuarantine(OnAzurite, QuarantineContract):
    pass


class TestTableProcessedEvents(OnAzurite, ProcessedEventsContract):
    pass


class TestTableClaims(OnAzurite, ClaimsContract):
    pass


class TestTableEventLog(OnAzurite, EventLogContract):
    pass


def test_bootstrap_builds_working_stores_from_settings(azurite: Azurite, table_prefix: str) -> None:
    settings = Settings.from_environment(
        {"CONTROLPLANE_STORAGE": azurite.connection_string, "CONTROLPLANE_TABLE_PREFIX": table_prefix}
    )
    stores = table_stores(settings)
    stores.deployments.create_deployment(deployment())
    assert stores.deployments.get_deployment("dep-1").id == "dep-1"
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    assert f"{table_prefix}Deployments" in {table.name for table in service.list_tables()}


class TestTableRetentionLayouts(OnAzurite, DeploymentRetentionContract, ProcessedEventsUpgradeContract):
    pass
