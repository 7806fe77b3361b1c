"""The in-memory fakes pass the same contracts as the Table-storage adapters."""

from __future__ import annotations

import pytest

from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.testing.memory_documents import MemoryDocumentTables
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


class TestMemoryDocumentTables(DocumentTablesContract):
    @pytest.fixture
    def tables(self) -> MemoryDocumentTables:
        tables = MemoryDocumentTables()
        tables.create_tables(["Things"])
        return tables


class InMemory:
    @pytest.fixture
    def tables(self) -> MemoryDocumentTables:
        tables = MemoryDocumentTables()
        create_tables(tables)
        return tables

    @pytest.fixture
    def stores(self, tables: MemoryDocumentTables) -> Stores:
        return Stores.over(tables)


class TestMemoryDeployments(InMemory, DeploymentsContract):
    pass


class TestMemoryDeploymentPages(InMemory, DeploymentPagesContract):
    pass


class TestMemoryServiceProgress(InMemory, ServiceProgressContract):
    pass


class TestMemoryCatalog(InMemory, CatalogContract):
    pass


class TestMemoryFindings(InMemory, FindingsContract):
    pass


class TestMemoryLoopStates(InMemory, LoopStatesContract):
    pass


class TestMemoryQuarantine(InMemory, QuarantineContract):
    pass


class TestMemoryProcessedEvents(InMemory, ProcessedEventsContract):
    pass


class TestMemoryClaims(InMemory, ClaimsContract):
    pass


class TestMemoryEventLog(InMemory, EventLogContract):
    pass


class TestMemoryRetentionLayouts(InMemory, DeploymentRetentionContract, ProcessedEventsUpgradeContract):
    pass
