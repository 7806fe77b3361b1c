"""``python -m controlplane reindex`` (``adapters.storage.reindex``) on Azurite: deployments and findings stored
before their listing's index, or left one save behind, are listed after it; a second run writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage import deployment_summaries as summaries
from controlplane.adapters.storage import deployments, findings
from controlplane.adapters.storage.deployment_summaries import Summary
from controlplane.adapters.storage.documents import Document, KeyRange
from controlplane.adapters.storage.reindex import Reindexed, reindex
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.cli.main import main
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.deployment_summary import DeploymentQuery
from controlplane.domain.findings import FindingStatus
from controlplane.testing.counting_documents import CountingDocumentTables
from funchost.azurite import Azurite
from tests.builders import T0, deployment, finding
from tests.contracts.records.deployment_pages import page_of

pytestmark = pytest.mark.azurite


@pytest.fixture
def tables(azurite: Azurite, table_prefix: str) -> AzureTableDocuments:
    tables = AzureTableDocuments(TableServiceClient.from_connection_string(azurite.connection_string), table_prefix)
    create_tables(tables)
    return tables


def _unindexed(tables: AzureTableDocuments) -> Stores:
    """Five deployments (two with a second service) and three findings, stored as before the indexes existed (and
    a deployment row of another kind in a deployment's partition, which is not a record); a finding approved
    since, whose Open row a crash left behind; one deployment whose summary is a save behind."""
    stores = Stores.over(tables)
    for number in range(5):
        services = ("orders", "payments") if number >= 3 else ("orders",)
        stores.deployments.create_deployment(deployment(f"d{number}", "dev", services, T0 + timedelta(minutes=number)))
    for number in range(3):
        stores.findings.create_finding(finding(f"f-{number}", age=number))
    for table in (summaries.INDEX, summaries.SERVICE_INDEX, findings.INDEX):
        for row in list(tables.scan(table, KeyRange())):
            tables.delete(table, row.partition, row.row)
    tables.insert(deployments.TABLE, Document("d0", "note|other", {"kind": "not a record"}))
    opened = stores.findings.get_finding("f-2")
    stores.findings.save_finding(opened.with_status(FindingStatus.APPROVED, T0))
    for document in findings.index_documents(opened):
        tables.upsert(findings.INDEX, document)
    behind = Summary.of(stores.deployments.read_partition("d1"))
    stores.deployments.update_deployment("d1", lambda current: current.advance(DeploymentState.PROVISIONING, T0))
    for table, partition in behind.places:
        tables.upsert(table, behind.document(partition))
    return stores


def test_reindex_lists_what_was_stored_before_the_index_and_repairs_what_a_crash_left(
    tables: AzureTableDocuments,
) -> None:
    stores = _unindexed(tables)
    assert [s["id"] for s in page_of(stores.deployments, DeploymentQuery()).deployments] == ["d1"]
    lines: list[str] = []
    done = reindex(tables, batch=2, progress=lines.append)
    assert done == [Reindexed("deployments", 5, 5, 0), Reindexed("findings", 3, 3, 1)]
    assert lines[:3] == [f"deployments: indexed 2 record(s) ({count} so far)" for count in (2, 4)] + [
        "deployments: indexed 1 record(s) (5 so far)"
    ]
    assert lines[3] == "deployments: 5 record(s) read, 5 indexed again, 0 already indexed, 0 stray index row(s) deleted"
    listed = page_of(stores.deployments, DeploymentQuery()).deployments
    assert [(s["id"], s["state"]) for s in listed] == [
        ("d4", "Requested"),
        ("d3", "Requested"),
        ("d2", "Requested"),
        ("d1", "Provisioning"),
        ("d0", "Requested"),
    ]
    assert [s["id"] for s in page_of(stores.deployments, DeploymentQuery(service="payments")).deployments] == [
        "d4",
        "d3",
    ]
    assert [f.id for f in stores.findings.page_findings(FindingStatus.OPEN).findings] == ["f-0", "f-1"]
    assert [(f.id, f.status) for f in stores.findings.page_findings().findings] == [
        ("f-0", FindingStatus.OPEN),
        ("f-1", FindingStatus.OPEN),
        ("f-2", FindingStatus.APPROVED),
    ]


def test_a_second_reindex_reads_and_writes_nothing_more(tables: AzureTableDocuments) -> None:
    _unindexed(tables)
    reindex(tables, progress=lambda line: None)
    counting = CountingDocumentTables(tables)
    assert reindex(counting, progress=lambda line: None) == [
        Reindexed("deployments", 5, 0, 0),
        Reindexed("findings", 3, 0, 0),
    ]
    assert set(counting.operations) == {"scan"}


def test_the_reindex_command_prints_what_it_did(
    azurite: Azurite,
    table_prefix: str,
    tables: AzureTableDocuments,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _unindexed(tables)
    monkeypatch.setenv("CONTROLPLANE_STORAGE", azurite.connection_string)
    monkeypatch.setenv("CONTROLPLANE_TABLE_PREFIX", table_prefix)
    assert main(["reindex", "--batch", "10"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "deployments: indexed 5 record(s) (5 so far)",
        "deployments: 5 record(s) read, 5 indexed again, 0 already indexed, 0 stray index row(s) deleted",
        "findings: indexed 3 record(s) (3 so far)",
        "findings: 3 record(s) read, 3 indexed again, 0 already indexed, 1 stray index row(s) deleted",
    ]
    assert main(["reindex", "--batch", "0"]) == 1
    assert "--batch: at least 1" in capsys.readouterr().err
