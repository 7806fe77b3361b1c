"""The durable engine on in-memory tables: every orchestration API through the SDK's real replay."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from funchost.durable.engine import DurableEngine
from funchost.durable.history import RuntimeStatus
from funchost.durable.store import DurableStore
from funchost.storage.memory_tables import MemoryTables
from funchost.tests.apps import durable_app


@pytest.fixture
def engine() -> Iterator[DurableEngine]:
    store = DurableStore(MemoryTables(), "Test")
    engine = DurableEngine(durable_app.index(), store)
    engine.start()
    yield engine
    engine.stop()


def run(engine: DurableEngine, name: str, value=None, timeout: float = 20):
    instance_id = engine.start_new(name, None, json.dumps(value))
    record = engine.wait(instance_id, timeout)
    return record, (json.loads(record.output) if record.output and record.status is RuntimeStatus.COMPLETED else None)


def test_a_sequential_chain_completes_with_its_result(engine: DurableEngine) -> None:
    record, output = run(engine, "chain", 5)
    assert record.status is RuntimeStatus.COMPLETED
    assert output == 5


def test_a_fan_out_collects_every_result(engine: DurableEngine) -> None:
    _, output = run(engine, "fan_out", 50)
    assert output == sum(range(1, 51))


def test_retries_until_the_activity_succeeds(engine: DurableEngine) -> None:
    _, output = run(engine, "retrying", {"key": uuid.uuid4().hex, "failures": 2})
    assert output == "ok after 3"


def test_retries_give_up_after_max_attempts(engine: DurableEngine) -> None:
    record, _ = run(engine, "retrying", {"key": uuid.uuid4().hex, "failures": 5})
    assert record.status is RuntimeStatus.FAILED
    assert "attempt 3 failed" in record.output


def test_an_unhandled_activity_failure_fails_the_instance(engine: DurableEngine) -> None:
    record, _ = run(engine, "failing")
    assert record.status is RuntimeStatus.FAILED
    assert "activity exploded" in record.output


def test_an_orchestrator_can_catch_an_activity_failure(engine: DurableEngine) -> None:
    assert run(engine, "catches")[1] == "caught: True"


def test_a_timer_delays_the_orchestration(engine: DurableEngine) -> None:
    assert run(engine, "timer_then_echo", 0.2)[1] == "woke"


def test_an_external_event_wins_over_the_timeout(engine: DurableEngine) -> None:
    instance_id = engine.start_new("approval", None, json.dumps(30))
    for _ in range(200):
        if engine.get_record(instance_id).custom_status:
            break
        time.sleep(0.01)
    assert json.loads(engine.get_record(instance_id).custom_status) == {"waiting": "approve"}
    engine.raise_event(instance_id, "approve", json.dumps("by alice"))
    record = engine.wait(instance_id)
    assert json.loads(record.output) == {"approved": "by alice"}
    assert json.loads(record.custom_status) == {"approved": True}


def test_the_timeout_wins_without_an_event(engine: DurableEngine) -> None:
    assert run(engine, "approval", 0.2)[1] == {"approved": False}


def test_sub_orchestrations_return_their_results(engine: DurableEngine) -> None:
    _, output = run(engine, "parent")
    assert output == [3, 2]


def test_continue_as_new_restarts_with_new_input(engine: DurableEngine) -> None:
    _, output = run(engine, "counter", 0)
    assert output["value"] == 3


def test_terminate_stops_a_waiting_instance(engine: DurableEngine) -> None:
    instance_id = engine.start_new("approval", None, json.dumps(60))
    time.sleep(0.2)
    assert engine.terminate(instance_id, "operator said stop")
    record = engine.wait(instance_id)
    assert record.status is RuntimeStatus.TERMINATED
    assert record.output == "operator said stop"
