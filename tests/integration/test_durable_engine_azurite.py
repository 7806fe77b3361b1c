"""The durable engine on Table storage (a real Azurite): runs, restarts, and the rows it leaves behind."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.table_documents import AzureTableDocuments
from controlplane.local.azurite import Azurite
from controlplane.local.durable.engine import DurableEngine
from controlplane.local.durable.history import EventType, RuntimeStatus, kind_of
from controlplane.local.durable.store import DurableStore
from tests import durable_app

pytestmark = pytest.mark.azurite


@pytest.fixture
def hub() -> str:
    return f"Hub{uuid.uuid4().hex[:12]}"


def store_on(azurite: Azurite, hub: str) -> DurableStore:
    """A store over its own Table service client, as a separately started host would have."""
    return DurableStore(AzureTableDocuments(TableServiceClient.from_connection_string(azurite.connection_string)), hub)


@contextmanager
def engine_on(azurite: Azurite, hub: str) -> Iterator[DurableEngine]:
    engine = DurableEngine(durable_app.index(), store_on(azurite, hub))
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
