"""The durable engine on Table and Blob storage (a real Azurite): runs, restarts, the rows it leaves behind,
and payloads past the Table limit kept in the hub's large-message container as on Azure."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import azure.durable_functions as df
import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from funchost.azurite import Azurite
from funchost.durable.blobs import BlobContainer
from funchost.durable.engine import DurableEngine
from funchost.durable.history import EventType, RuntimeStatus, kind_of
from funchost.durable.large_payloads import LargePayloads
from funchost.durable.store import DurableStore
from funchost.errors import NotFound
from funchost.functions import FunctionIndex
from funchost.storage.account import StorageAccount
from funchost.storage.azure_tables import AzureTables
from funchost.tests.apps import durable_app

pytestmark = pytest.mark.azurite


@pytest.fixture
def hub() -> str:
    return f"Hub{uuid.uuid4().hex[:12]}"


def store_on(azurite: Azurite, hub: str) -> DurableStore:
    """A store over its own Table and Blob service clients, as a separately started host would have."""
    tables = AzureTables(TableServiceClient.from_connection_string(azurite.connection_string))
    blobs = BlobContainer.for_hub(StorageAccount(azurite.connection_string), hub)
    return DurableStore(tables, hub, LargePayloads(blobs))


@contextmanager
def engine_on(azurite: Azurite, hub: str, index: FunctionIndex | None = None) -> Iterator[DurableEngine]:
    engine = DurableEngine(index or durable_app.index(), store_on(azurite, hub))
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def test_a_chain_completes_and_its_history_is_in_table_storage(azurite: Azurite, hub: str) -> None:
    with engine_on(azurite, hub) as engine:
        instance_id = engine.start_new("chain", None, json.dumps(5))
        record = engine.wait(instance_id, timeout=8)

    assert (record.status, json.loads(record.output)) == (RuntimeStatus.COMPLETED, 5)
    history = store_on(azurite, hub).load_history(instance_id, repair=False).events
    assert [e["Name"] for e in history if kind_of(e) is EventType.TASK_SCHEDULED] == ["add_one"] * 5
    assert [e["Result"] for e in history if kind_of(e) is EventType.TASK_COMPLETED] == ["1", "2", "3", "4", "5"]


def test_a_fan_out_collects_every_result(azurite: Azurite, hub: str) -> None:
    with engine_on(azurite, hub) as engine:
        instance_id = engine.start_new("fan_out", None, json.dumps(30))
        record = engine.wait(instance_id, timeout=8)

    assert (record.status, json.loads(record.output)) == (RuntimeStatus.COMPLETED, sum(range(1, 31)))
    history = store_on(azurite, hub).load_history(instance_id, repair=False).events
    assert len([e for e in history if kind_of(e) is EventType.TASK_COMPLETED]) == 30


def test_a_waiting_instance_resumes_on_a_new_engine_and_completes(azurite: Azurite, hub: str) -> None:
    with engine_on(azurite, hub) as first:
        instance_id = first.start_new("waiter", None, None)
        deadline = time.monotonic() + 5
        while first.get_record(instance_id).custom_status != '"waiting"':
            assert time.monotonic() < deadline, "the waiter never started waiting"
            time.sleep(0.01)

    stopped = store_on(azurite, hub).get_instance(instance_id)
    assert (stopped.status, stopped.custom_status) == (RuntimeStatus.RUNNING, '"waiting"')

    with engine_on(azurite, hub) as second:
        assert second.get_record(instance_id).status is RuntimeStatus.RUNNING
        second.raise_event(instance_id, "go", json.dumps("after restart"))
        record = second.wait(instance_id, timeout=8)

    assert (record.status, json.loads(record.output)) == (RuntimeStatus.COMPLETED, {"got": "after restart"})
    assert store_on(azurite, hub).messages(instance_id) == []


def test_instance_rows_hold_the_final_status_once_the_engine_stopped(azurite: Azurite, hub: str) -> None:
    with engine_on(azurite, hub) as engine:
        completed = engine.start_new("chain", None, json.dumps(2))
        failed = engine.start_new("failing", None, None)
        terminated = engine.start_new("waiter", None, None)
        engine.wait(completed, timeout=8)
        engine.wait(failed, timeout=8)
        engine.terminate(terminated, "no longer needed")
        engine.wait(terminated, timeout=8)

    rows = {record.instance_id: record for record in store_on(azurite, hub).list_instances()}
    assert (rows[completed].status, rows[completed].output) == (RuntimeStatus.COMPLETED, "2")
    assert rows[completed].completed_time is not None
    assert rows[failed].status is RuntimeStatus.FAILED
    assert "activity exploded" in rows[failed].output
    assert (rows[terminated].status, rows[terminated].output) == (RuntimeStatus.TERMINATED, "no longer needed")
    finished = [RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED]
    assert {r.instance_id for r in store_on(azurite, hub).list_instances(finished)} == {completed, failed, terminated}


# Payloads past a Table property: an app whose orchestration and activity take and return over 1 MiB.

large_app = df.DFApp()
MIB = 1024 * 1024


@large_app.activity_trigger(input_name="text")
def lengthen(text: str) -> str:
    return text + "b" * MIB


@large_app.orchestration_trigger(context_name="context")
def round_trip(context: df.DurableOrchestrationContext):
    longer = yield context.call_activity(lengthen, context.get_input())
    return {"length": len(longer), "text": longer + "c" * MIB}


_large_index = FunctionIndex.of_app(large_app)  # the SDK indexes an app once


def large_blobs(azurite: Azurite, hub: str) -> dict[str, bytes]:
    """Every blob of the hub's large-message container, by name."""
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client(f"{hub.lower()}-largemessages")
    return {blob.name: container.download_blob(blob.name).readall() for blob in container.list_blobs()}


def test_inputs_and_outputs_over_a_mebibyte_round_trip_through_blobs(azurite: Azurite, hub: str) -> None:
    text = "a" * (MIB + 1)
    with engine_on(azurite, hub, _large_index) as engine:
        instance_id = engine.start_new("round_trip", None, json.dumps(text))
        record = engine.wait(instance_id, timeout=30)

    assert record.status is RuntimeStatus.COMPLETED, record.output
    assert json.loads(record.output) == {"length": 2 * MIB + 1, "text": text + "b" * MIB + "c" * MIB}
    stored = store_on(azurite, hub)
    row = stored.get_instance(instance_id)  # read back from Table storage and the blobs
    assert (json.loads(row.input), row.output) == (text, record.output)
    history = stored.load_history(instance_id, repair=False).events
    [scheduled] = [e for e in history if kind_of(e) is EventType.TASK_SCHEDULED]
    [completed] = [e for e in history if kind_of(e) is EventType.TASK_COMPLETED]
    assert (json.loads(scheduled["Input"]), json.loads(completed["Result"])) == (text, text + "b" * MIB)

    blobs = large_blobs(azurite, hub)
    kinds = {name.split("/")[1].rsplit("-", 2)[0] for name in blobs}
    assert {"history-000000-ExecutionStarted", "history-000000-TaskScheduled", "history-000000-TaskCompleted"} <= kinds
    assert {"history-000000-ExecutionCompleted", "instance", "message-ExecutionStarted"} <= kinds
    assert all(name.startswith(f"{instance_id}/") and name.endswith(".json.gz") for name in blobs)
    sizes = [len(gzip.decompress(data)) for data in blobs.values()]
    assert max(sizes) > 2 * MIB and sum(len(data) for data in blobs.values()) < MIB  # compressed


def test_rows_keep_a_blob_name_in_place_of_a_large_payload(azurite: Azurite, hub: str) -> None:
    with engine_on(azurite, hub, _large_index) as engine:
        instance_id = engine.start_new("round_trip", None, json.dumps("x" * MIB))
        engine.wait(instance_id, timeout=30)

    tables = AzureTables(TableServiceClient.from_connection_string(azurite.connection_string))
    [instance] = list(tables.query(f"{hub}Instances", partition=instance_id))
    assert (instance.body["input"], instance.body["output"]) == ("", "")
    assert instance.body["inputBlobName"].endswith("-input.json.gz")
    rows = list(tables.query(f"{hub}History", partition=instance_id))
    events = [e for row in rows for e in row.body["events"]]
    started = next(e for e in events if kind_of(e) is EventType.EXECUTION_STARTED)
    assert started["Input"] == "" and started["InputBlobName"] in large_blobs(azurite, hub)


def test_a_large_instance_resumes_on_a_new_engine_from_its_blobs(azurite: Azurite, hub: str) -> None:
    text = "w" * MIB
    with engine_on(azurite, hub) as first:
        instance_id = first.start_new("waiter", None, json.dumps(text))
        deadline = time.monotonic() + 10
        while first.get_record(instance_id).custom_status != '"waiting"':
            assert time.monotonic() < deadline, "the waiter never started waiting"
            time.sleep(0.01)

    with engine_on(azurite, hub) as second:
        second.raise_event(instance_id, "go", json.dumps(text))
        record = second.wait(instance_id, timeout=30)

    assert (record.status, json.loads(record.output)) == (RuntimeStatus.COMPLETED, {"got": text})


def test_purging_an_instance_deletes_its_blobs(azurite: Azurite, hub: str) -> None:
    with engine_on(azurite, hub, _large_index) as engine:
        kept = engine.start_new("round_trip", None, json.dumps("k" * MIB))
        purged = engine.start_new("round_trip", None, json.dumps("p" * MIB))
        engine.wait(kept, timeout=30)
        engine.wait(purged, timeout=30)
        assert engine.purge(purged)

    owners = {name.split("/")[0] for name in large_blobs(azurite, hub)}
    assert owners == {kept}


# The blob container adapter's contract, on Azurite.


@pytest.fixture
def container(azurite: Azurite, hub: str) -> BlobContainer:
    created = BlobContainer.for_hub(StorageAccount(azurite.connection_string), hub)
    created.create()
    return created


def test_the_container_is_named_for_the_hub_as_on_azure(container: BlobContainer, hub: str) -> None:
    assert container.name == f"{hub.lower()}-largemessages"
    container.create()  # idempotent


def test_a_blob_reads_back_as_written_and_is_replaced_by_a_rewrite(container: BlobContainer) -> None:
    container.upload("i/one.json.gz", b"first")
    container.upload("i/one.json.gz", b"second")

    assert container.download("i/one.json.gz") == b"second"


def test_a_missing_blob_is_not_found(container: BlobContainer) -> None:
    with pytest.raises(NotFound):
        container.download("nobody/none.json.gz")


def test_deleting_a_prefix_deletes_only_its_blobs(container: BlobContainer) -> None:
    for name in ("a/1", "a/2", "ab/1", "b/1"):
        container.upload(name, b"x")

    assert container.delete_prefix("a/") == 2
    assert container.delete_prefix("a/") == 0
    assert container.download("ab/1") == container.download("b/1") == b"x"
