"""The listing's summaries are written only over older ones, whatever order their writers land in."""

from __future__ import annotations

from dataclasses import replace

from controlplane.adapters.storage.deployment_rows import Partition
from controlplane.adapters.storage.deployment_summaries import INDEX, SERVICE_INDEX, write_summaries
from controlplane.adapters.storage.deployments import TABLE
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.domain.deployment import DeploymentState, ServicePhase
from controlplane.domain.deployment_summary import DeploymentQuery
from controlplane.testing.memory_documents import MemoryDocumentTables
from tests.builders import T0, deployment
from tests.contracts.records.deployment_pages import page_of


def _world() -> tuple[MemoryDocumentTables, Stores]:
    tables = MemoryDocumentTables()
    create_tables(tables)
    stores = Stores.over(tables)
    stores.deployments.create_deployment(deployment(services=("orders", "payments")))
    return tables, stores


def _read(tables: MemoryDocumentTables) -> Partition:
    return Partition.of("dep-1", tables.query(TABLE, partition="dep-1"))


def _shown(stores: Stores) -> tuple[str, int, int]:
    [summary] = page_of(stores.deployments, DeploymentQuery()).deployments
    services = summary["services"]
    return summary["state"], services["orders"]["trafficPercent"], services["payments"]["trafficPercent"]


def test_a_late_summary_of_an_older_version_leaves_the_newer_one() -> None:
    tables, stores = _world()
    older = _read(tables)
    stores.deployments.update_service("dep-1", "orders", lambda progress: progress.with_traffic(20, T0))
    write_summaries(tables, older, lambda deployment_id: _read(tables))  # a slow writer of the version before
    assert _shown(stores) == ("Requested", 20, 0)
    for table, partition in ((INDEX, "*"), (SERVICE_INDEX, "orders"), (SERVICE_INDEX, "payments")):
        [row] = tables.query(table, partition=partition)
        assert row.body["services"]["orders"]["trafficPercent"] == 20


def test_summaries_each_lacking_a_write_the_other_has_end_as_the_record_read_again() -> None:
    tables, stores = _world()
    before = _read(tables)
    stores.deployments.update_service("dep-1", "orders", lambda progress: progress.with_traffic(20, T0))
    orders_only = _read(tables)
    stores.deployments.update_deployment("dep-1", lambda current: current.advance(DeploymentState.PROVISIONING, T0))
    stores.deployments.update_service(
        "dep-1", "payments", lambda progress: replace(progress, phase=ServicePhase.ROLLING_OUT).with_traffic(50, T0)
    )
    # Pretend the index lags: it holds the summary of orders' write alone, and a writer of payments' brings its own.
    for table, partition in ((INDEX, "*"), (SERVICE_INDEX, "orders"), (SERVICE_INDEX, "payments")):
        tables.delete(table, partition, next(tables.query(table, partition=partition)).row)
    write_summaries(tables, orders_only, lambda deployment_id: _read(tables))
    payments_only = before.written([tables.get(TABLE, "dep-1", "service|payments")])
    write_summaries(tables, payments_only, lambda deployment_id: _read(tables))
    assert _shown(stores) == ("Provisioning", 20, 50)
