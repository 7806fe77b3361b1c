"""Local workloads no record accounts for are reaped at start-up; recorded ones are adopted; strangers untouched.

Real processes (tests/fixtures/tiny_workload.py) under the real local compute and router; deployment records in
Table storage on Azurite."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.local.compute import LocalCompute
from controlplane.adapters.local.orphans import reap_unowned_revisions
from controlplane.adapters.local.processes import process_start_time, start_replica, stop_replica
from controlplane.adapters.local.router import LocalRouter
from controlplane.adapters.storage.stores import Stores, create_tables
from funchost.azurite import Azurite
from tests.builders import deployment
from tests.contracts.compute import spec

WORKLOAD = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_workload.py"
COMMAND = [sys.executable, str(WORKLOAD)]


@pytest.fixture
def computes(tmp_path: Path) -> Iterator[Callable[[], LocalCompute]]:
    """Local computes over one state directory, as successive host starts (the last one's router closed first, as
    its host died); all stopped afterwards."""
    made: list[tuple[LocalCompute, LocalRouter]] = []

    def make() -> LocalCompute:
        if made:
            made[-1][1].close()
        router = LocalRouter(tmp_path / "router.json")
        compute = LocalCompute(tmp_path / "compute", lambda image: COMMAND, router, tmp_path / "compute.json")
        made.append((compute, router))
        return compute

    yield make
    for compute, router in reversed(made):
        compute.shutdown()
        router.close()


def test_a_replica_started_but_never_recorded_is_reaped_and_replaced(
    computes: Callable[[], LocalCompute], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = computes()
    first.deploy_revision(spec("orders-v1", replicas=2))
    recorded, unrecorded = first.pids("dev", "orders", "orders-v1")
    # As if the host died between starting replica 1 and recording it.
    state_file = tmp_path / "compute.json"
    state = json.loads(state_file.read_text())
    state["revisions"][0]["processes"] = state["revisions"][0]["processes"][:1]
    state_file.write_text(json.dumps(state))

    with caplog.at_level(logging.INFO):
        second = computes()
    assert process_start_time(unrecorded) is None, "the process no record names is gone"
    adopted, replaced = second.pids("dev", "orders", "orders-v1")
    assert adopted == recorded and replaced != unrecorded
    assert f"reaping pid {unrecorded}" in caplog.text and "adopted replicas [0]" in caplog.text


def test_a_process_of_another_compute_is_never_reaped(computes: Callable[[], LocalCompute], tmp_path: Path) -> None:
    elsewhere = start_replica(COMMAND, spec("orders-v9"), 0, tmp_path / "other.log", tmp_path / "another-compute")
    try:
        computes()
        assert process_start_time(elsewhere.pid) == elsewhere.start_time
    finally:
        stop_replica(elsewhere, 5)


@pytest.fixture
def stores(azurite: Azurite) -> Stores:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    tables = AzureTableDocuments(service, prefix=f"o{uuid.uuid4().hex[:10]}")
    create_tables(tables)
    return Stores.over(tables)


def test_revisions_whose_deployment_has_no_record_are_removed_unless_they_serve(
    computes: Callable[[], LocalCompute], stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    compute = computes()
    stores.deployments.create_deployment(deployment("dep-aaa111"))
    for revision in ("orders--aaa111", "orders--bbb222", "orders--ccc333", "orders-canary"):
        compute.deploy_revision(spec(revision))
    compute.set_traffic("dev", "orders", {"orders--ccc333": 100})
    lost = compute.pids("dev", "orders", "orders--bbb222")

    with caplog.at_level(logging.INFO):
        reap_unowned_revisions(compute, stores.deployments)

    kept = [revision for _, _, revision, _ in compute.managed_revisions()]
    assert kept == ["orders--aaa111", "orders--ccc333", "orders-canary"]
    assert all(process_start_time(pid) is None for pid in lost)
    assert "revision orders--aaa111: adopted (deployment dep-aaa111)" in caplog.text
    assert "deployment dep-bbb222 has no record (lost before a crash); removing it" in caplog.text
    assert "orders--ccc333 serves 100% of traffic but deployment dep-ccc333 has no record: kept" in caplog.text


def test_local_state_is_private(computes: Callable[[], LocalCompute], tmp_path: Path) -> None:
    compute = computes()
    compute.deploy_revision(spec("orders-v1", configuration={"GREETING": "hello"}))
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    written = list(tmp_path.rglob("*"))
    assert {path.name for path in written} >= {"compute.json", "router.json", "orders-v1-0.log"}
    for path in written:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path


def test_replicas_whose_state_file_was_moved_aside_are_reaped(
    computes: Callable[[], LocalCompute], tmp_path: Path
) -> None:
    first = computes()
    first.deploy_revision(spec("orders-v1"))
    [pid] = first.pids("dev", "orders", "orders-v1")
    (tmp_path / "compute.json").rename(tmp_path / "compute.json.broken")  # nothing names the replica any more
    assert computes().managed_revisions() == []
    assert process_start_time(pid) is None
