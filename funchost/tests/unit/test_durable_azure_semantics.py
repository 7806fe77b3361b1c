"""Durable semantics as Azure gives them to a Python app: full replay at every episode, the 16 KB custom
status limit, and failure texts in the extension's words (sources cited at each rule in the engine)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import azure.durable_functions as df
import pytest

from funchost.durable.engine import DurableEngine
from funchost.durable.episodes import EpisodeReport
from funchost.durable.history import EventType, RuntimeStatus, kind_of
from funchost.durable.store import DurableStore, InstanceRecord
from funchost.functions import FunctionIndex
from funchost.settings import EXTENDED_SESSIONS_WARNING, ignore_extended_sessions
from funchost.storage.memory_tables import MemoryTables

app = df.DFApp()
starts: list[str] = []  # one entry each time an orchestrator's generator begins


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="value")
def reject(value: str) -> None:
    raise ValueError(f"bad input {value!r}")


@app.orchestration_trigger(context_name="context")
def counted(context: df.DurableOrchestrationContext):
    starts.append(context.instance_id)
    total = 1
    for _ in range(3):
        total = yield context.call_activity(double, total)
    return total


@app.orchestration_trigger(context_name="context")
def catches(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity(reject, "x")
    except Exception as error:
        return str(error)


@app.orchestration_trigger(context_name="context")
def uncaught(context: df.DurableOrchestrationContext):
    yield context.call_activity(reject, "y")


@app.orchestration_trigger(context_name="context")
def raises(context: df.DurableOrchestrationContext):
    yield context.call_activity(double, 1)
    raise RuntimeError("orchestrator gave up")


@app.orchestration_trigger(context_name="context")
def parent_of_failure(context: df.DurableOrchestrationContext):
    try:
        yield context.call_sub_orchestrator("raises")
    except Exception as error:
        return str(error)


@app.orchestration_trigger(context_name="context")
def sized_status(context: df.DurableOrchestrationContext):
    """A custom status string whose compact JSON is ``context.get_input()`` UTF-16 bytes long."""
    context.set_custom_status("x" * (context.get_input() // 2 - 2))  # the two quotes count too
    yield context.call_activity(double, 1)
    return "done"


_index = FunctionIndex.of_app(app)  # the SDK indexes an app once


@pytest.fixture
def engine() -> Iterator[DurableEngine]:
    engine = DurableEngine(_index, DurableStore(MemoryTables(), "Semantics"))
    engine.start()
    yield engine
    engine.stop()


def run(engine: DurableEngine, name: str, value=None) -> InstanceRecord:
    return engine.wait(engine.start_new(name, None, json.dumps(value)), timeout=10)


def test_every_episode_replays_the_orchestrator_from_its_start(engine: DurableEngine) -> None:
    record = run(engine, "counted")

    assert (record.status, record.output) == (RuntimeStatus.COMPLETED, "8")
    # Four episodes (the start and three activity results), each a fresh generator over the whole history.
    assert starts.count(record.instance_id) == 4
    assert engine.stats["replays"] == 4


def test_an_activity_failure_reaches_the_orchestrator_in_the_extension_s_words(engine: DurableEngine) -> None:
    record = run(engine, "catches")

    message = json.loads(record.output)
    reason, details = message.split(" \n ", 1)
    assert reason == "Activity function 'reject' failed:  ValueError: bad input 'x'"
    cause = json.loads(details)  # a serialized .NET exception: what apps parse on Azure
    assert cause["Message"] == " ValueError: bad input 'x'"
    rpc_message = cause["InnerException"]["Message"]
    assert rpc_message.startswith("Result: Failure\nException: ValueError: bad input 'x'\nStack: ")


def test_the_task_failed_event_carries_reason_and_details(engine: DurableEngine) -> None:
    record = run(engine, "catches")

    failed = [e for e in engine.history(record.instance_id) if kind_of(e) is EventType.TASK_FAILED]
    assert [e["Reason"] for e in failed] == ["Activity function 'reject' failed:  ValueError: bad input 'x'"]
    assert json.loads(failed[0]["Details"])["ClassName"] == "System.Exception"


def test_an_unhandled_activity_failure_fails_the_orchestration_with_the_extension_s_output(
    engine: DurableEngine,
) -> None:
    record = run(engine, "uncaught")

    assert record.status is RuntimeStatus.FAILED
    first_line = record.output.splitlines()[0]
    assert first_line == (
        "Orchestrator function 'uncaught' failed: Activity function 'reject' failed:  ValueError: bad input 'y' "
    )


def test_an_orchestrator_that_raises_fails_with_its_own_message(engine: DurableEngine) -> None:
    record = run(engine, "raises")

    assert (record.status, record.output) == (
        RuntimeStatus.FAILED,
        "Orchestrator function 'raises' failed: orchestrator gave up",
    )


def test_a_failed_sub_orchestration_reaches_its_parent_as_on_azure(engine: DurableEngine) -> None:
    record = run(engine, "parent_of_failure")

    assert json.loads(record.output) == (
        "Orchestrator function 'raises' failed: orchestrator gave up \n Message: orchestrator gave up, StackTrace: "
    )


def test_a_custom_status_just_under_17_kb_is_accepted(engine: DurableEngine) -> None:
    """The extension truncates the size to whole KB before comparing with 16: 17,407 bytes pass."""
    record = run(engine, "sized_status", 17 * 1024 - 2)

    assert record.status is RuntimeStatus.COMPLETED
    assert len(json.loads(record.custom_status)) == (17 * 1024 - 2) // 2 - 2


def test_a_custom_status_over_16_kb_fails_the_orchestration_as_the_extension_does(engine: DurableEngine) -> None:
    record = run(engine, "sized_status", 17 * 1024)

    assert (record.status, record.output) == (
        RuntimeStatus.FAILED,
        "Orchestrator function 'sized_status' failed: The UTF-16 size of the JSON-serialized payload must not "
        "exceed 16 KB. The current payload size is 17 KB.",
    )
    history = engine.history(record.instance_id)
    assert not [e for e in history if kind_of(e) is EventType.TASK_SCHEDULED]  # nothing it asked for ran


def test_extended_sessions_in_host_json_are_ignored_with_the_extension_s_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"durableTask": {"extendedSessionsEnabled": True}}}))

    with caplog.at_level(logging.WARNING):
        ignore_extended_sessions(tmp_path)

    assert [r.getMessage() for r in caplog.records] == [EXTENDED_SESSIONS_WARNING]
    assert EXTENDED_SESSIONS_WARNING.startswith(
        "Durable Functions does not work with extendedSessions = true for non-.NET languages. "
        "This value is being set to false instead."
    )


def test_an_observer_is_told_every_episode_and_the_history_its_replay_walked() -> None:
    reports: list[EpisodeReport] = []
    engine = DurableEngine(_index, DurableStore(MemoryTables(), "Observed"), observer=reports.append)
    engine.start()
    try:
        record = run(engine, "counted")
        history = engine.history(record.instance_id)
    finally:
        engine.stop()

    episodes = [report for report in reports if report.instance.instance_id == record.instance_id]
    # The episodes, one after the other, are the history; each replay walked what came before plus its own
    # OrchestratorStarted and inbound event (the start, then each activity's result).
    assert [(e["EventType"], e["EventId"]) for r in episodes for e in r.events] == [
        (e["EventType"], e["EventId"]) for e in history
    ]
    assert [report.replayed for report in episodes] == [2, 4 + 2, 8 + 2, 12 + 2]
    assert {report.generation for report in episodes} == {0}
