"""Suspend, resume, rewind, restart and purge by filter in the durable engine (in-memory tables, the SDK's
real replay). The HTTP side of the same operations is in tests/e2e/test_durable_http_api.py."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from funchost.durable.client_ops import InvalidInstanceId, check_instance_id
from funchost.durable.engine import DurableEngine
from funchost.durable.history import EventType, RuntimeStatus, kind_of
from funchost.durable.instance_query import InstanceQuery
from funchost.durable.store import DurableStore
from funchost.errors import AlreadyExists, NotFound
from funchost.storage.memory_tables import MemoryTables
from funchost.tests.apps import durable_app


@pytest.fixture
def store() -> DurableStore:
    return DurableStore(MemoryTables(), "Test")


@pytest.fixture
def engine(store: DurableStore) -> Iterator[DurableEngine]:
    engine = DurableEngine(durable_app.index(), store)
    engine.start()
    yield engine
    engine.stop()


def wait_for_status(engine: DurableEngine, instance_id: str, status: RuntimeStatus, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while engine.get_record(instance_id).status is not status:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{instance_id} is {engine.get_record(instance_id).status}, not {status}")
        time.sleep(0.005)


def kinds(engine: DurableEngine, instance_id: str) -> list[EventType]:
    return [kind_of(e) for e in engine.history(instance_id)]


def test_a_suspended_instance_holds_events_and_applies_them_in_order_when_resumed(engine: DurableEngine) -> None:
    instance_id = engine.start_new("collector", None, None)
    wait_for_status(engine, instance_id, RuntimeStatus.RUNNING)
    assert engine.suspend(instance_id, "maintenance")
    wait_for_status(engine, instance_id, RuntimeStatus.SUSPENDED)
    engine.raise_event(instance_id, "item", json.dumps("a"))
    engine.raise_event(instance_id, "item", json.dumps("b"))
    assert engine.resume(instance_id, "done")
    engine.raise_event(instance_id, "item", json.dumps("c"))

    record = engine.wait(instance_id)
    assert json.loads(record.output) == ["a", "b", "c"]
    history = kinds(engine, instance_id)
    suspended, resumed = history.index(EventType.EXECUTION_SUSPENDED), history.index(EventType.EXECUTION_RESUMED)
    raised = [n for n, kind in enumerate(history) if kind is EventType.EVENT_RAISED]
    assert suspended < resumed < raised[0]  # nothing ran while suspended: both events came with the resume
    assert engine.history(instance_id)[suspended]["Reason"] == "maintenance"


def test_terminate_ends_a_suspended_instance(engine: DurableEngine) -> None:
    instance_id = engine.start_new("waiter", None, None)
    wait_for_status(engine, instance_id, RuntimeStatus.RUNNING)
    engine.suspend(instance_id, "")
    wait_for_status(engine, instance_id, RuntimeStatus.SUSPENDED)
    engine.raise_event(instance_id, "go", json.dumps("late"))
    assert engine.terminate(instance_id, "stop")
    record = engine.wait(instance_id)
    assert (record.status, record.output) == (RuntimeStatus.TERMINATED, "stop")
    assert engine.suspend(instance_id, "") is False and engine.resume(instance_id, "") is False


def test_an_instance_loaded_from_history_while_suspended_stays_suspended(store: DurableStore) -> None:
    first = DurableEngine(durable_app.index(), store)
    first.start()
    instance_id = first.start_new("waiter", None, None)
    wait_for_status(first, instance_id, RuntimeStatus.RUNNING)
    first.suspend(instance_id, "")
    wait_for_status(first, instance_id, RuntimeStatus.SUSPENDED)
    first.raise_event(instance_id, "go", json.dumps("held"))
    first.stop()

    second = DurableEngine(durable_app.index(), store)
    second.start()
    try:
        assert second.get_record(instance_id).status is RuntimeStatus.SUSPENDED
        second.resume(instance_id, "")
        assert json.loads(second.wait(instance_id).output) == {"got": "held"}
    finally:
        second.stop()


def test_a_second_suspend_and_a_resume_of_a_running_instance_change_nothing(engine: DurableEngine) -> None:
    instance_id = engine.start_new("waiter", None, None)
    wait_for_status(engine, instance_id, RuntimeStatus.RUNNING)
    engine.resume(instance_id, "not suspended")
    engine.suspend(instance_id, "")
    engine.suspend(instance_id, "again")
    engine.resume(instance_id, "")
    engine.raise_event(instance_id, "go", json.dumps(1))
    assert json.loads(engine.wait(instance_id).output) == {"got": 1}
    history = kinds(engine, instance_id)
    assert history.count(EventType.EXECUTION_SUSPENDED) == 1 and history.count(EventType.EXECUTION_RESUMED) == 1


def test_rewind_runs_the_failed_activity_again_and_the_instance_completes(engine: DurableEngine) -> None:
    key = uuid.uuid4().hex
    instance_id = engine.start_new("flaky_once", None, json.dumps({"key": key, "failures": 1}))
    assert engine.wait(instance_id).status is RuntimeStatus.FAILED

    engine.rewind(instance_id, "fixed")
    record = engine.wait(instance_id)
    assert (record.status, json.loads(record.output)) == (RuntimeStatus.COMPLETED, [1, "ok after 2"])
    rewound = [e.get("Reason") for e in engine.history(instance_id) if kind_of(e) is EventType.GENERIC_EVENT]
    assert "Rewound: TaskFailed" in rewound and "Rewound: ExecutionCompleted" in rewound
    assert durable_app.calls[f"flaky:{key}"] == 2


def test_rewind_of_a_parent_rewinds_its_failed_sub_orchestration(engine: DurableEngine) -> None:
    key = uuid.uuid4().hex
    instance_id = engine.start_new("flaky_parent", None, json.dumps({"key": key, "failures": 1}))
    assert engine.wait(instance_id).status is RuntimeStatus.FAILED
    assert engine.get_record(f"{instance_id}-child").status is RuntimeStatus.FAILED

    engine.rewind(instance_id, "")
    record = engine.wait(instance_id)
    assert (record.status, json.loads(record.output)) == (RuntimeStatus.COMPLETED, {"child": [1, "ok after 2"]})
    assert engine.get_record(f"{instance_id}-child").status is RuntimeStatus.COMPLETED


def test_restart_starts_the_orchestrator_again_with_its_input(engine: DurableEngine) -> None:
    instance_id = engine.start_new("chain", None, json.dumps(3))
    engine.wait(instance_id)
    again = engine.restart(instance_id, new_instance_id=True)
    assert again != instance_id and json.loads(engine.wait(again).output) == 3
    assert engine.restart(instance_id, new_instance_id=False) == instance_id
    assert json.loads(engine.wait(instance_id).output) == 3


def test_restart_under_the_same_id_is_refused_while_it_runs(engine: DurableEngine) -> None:
    instance_id = engine.start_new("waiter", None, None)
    with pytest.raises(AlreadyExists, match=r"An Orchestration instance with the status (Pending|Running) already"):
        engine.restart(instance_id, new_instance_id=False)
    engine.terminate(instance_id, "")


def test_purge_by_filter_deletes_the_finished_instances_it_selects(engine: DurableEngine) -> None:
    prefix = uuid.uuid4().hex[:8]
    done = [engine.start_new("chain", f"{prefix}-{n}", json.dumps(1)) for n in range(3)]
    for instance_id in done:
        engine.wait(instance_id)
    running = engine.start_new("waiter", f"{prefix}-running", None)
    wait_for_status(engine, running, RuntimeStatus.RUNNING)
    since = datetime.now(UTC) - timedelta(minutes=5)

    assert engine.purge_matching(InstanceQuery(prefix=prefix, created_from=since)) == 3
    assert engine.get_record(running).status is RuntimeStatus.RUNNING
    assert engine.purge_matching(InstanceQuery(prefix=prefix, created_from=since)) == 0
    engine.terminate(running, "")


# DurableClient.StartNewAsync's instance-id rules (Azure/azure-functions-durable-extension
# src/WebJobs.Extensions.DurableTask/ContextImplementations/DurableClient.cs), texts as .NET prints them.
_NO_AT = "instanceId (Parameter 'Orchestration instance ids must not start with @.')"
_NO_CHARS = "instanceId (Parameter 'Orchestration instance ids must not contain /, \\, #, ?, or control characters.')"
_TOO_LONG = "Instance ID lengths must not exceed 256 characters."


@pytest.mark.parametrize(
    ("instance_id", "refusal"),
    [
        ("order-42", None),
        ("a b:c@d", None),  # "@" only refused in front; spaces and colons are fine
        ("x" * 256, None),
        ("\U0001f600" * 128, None),  # 256 UTF-16 code units
        ("\U0001f600" * 128 + "x", _TOO_LONG),  # .NET's string.Length counts surrogate pairs as two
        ("x" * 257, _TOO_LONG),
        ("@counter@k", _NO_AT),
        ("a/b", _NO_CHARS),
        ("a\\b", _NO_CHARS),
        ("a#b", _NO_CHARS),
        ("a?b", _NO_CHARS),
        ("a\tb", _NO_CHARS),
        ("a\x7fb", _NO_CHARS),
        ("a\x85b", _NO_CHARS),  # char.IsControl: the C1 range too
        ("a\u200bb", None),  # a format character (Cf) is not a control character
        ("@a/b", _NO_AT),  # the checks run in the extension's order
        ("/" + "x" * 300, _NO_CHARS),
    ],
)
def test_instance_ids_are_checked_as_the_extension_checks_them(instance_id: str, refusal: str | None) -> None:
    if refusal is None:
        check_instance_id(instance_id)
    else:
        with pytest.raises(InvalidInstanceId) as refused:
            check_instance_id(instance_id)
        assert str(refused.value) == refusal


def test_a_refused_instance_id_starts_nothing_and_an_empty_one_gets_a_new_id(engine: DurableEngine) -> None:
    with pytest.raises(InvalidInstanceId):
        engine.start_new("chain", "@entity", json.dumps(1))
    with pytest.raises(NotFound):
        engine.get_record("@entity")
    with pytest.raises(KeyError, match="The function 'nope' doesn't exist"):  # the orchestrator is checked first
        engine.start_new("nope", "@entity", None)
    assert len(engine.start_new("chain", "", json.dumps(1))) == 32  # Guid.ToString("N")


def test_an_orchestrator_name_matches_in_any_case_and_is_kept_as_sent(engine: DurableEngine) -> None:
    record = engine.wait(engine.start_new("CHAIN", None, json.dumps(2)))
    assert (record.name, record.status, json.loads(record.output)) == ("CHAIN", RuntimeStatus.COMPLETED, 2)
