"""Deploying changed orchestrator code under a running instance: replay must catch the difference.

Each app below declares an orchestrator named ``workflow``. An instance starts on one version, waits for
an external event, the engine stops, and a new engine over the next version (same tables) takes the event.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import azure.durable_functions as df

from funchost.durable.engine import DurableEngine
from funchost.durable.history import EventType, RuntimeStatus, kind_of
from funchost.durable.store import DurableStore
from funchost.functions import FunctionIndex
from funchost.storage.memory_tables import MemoryTables

HUB = "Deploy"


def _app(workflow: Callable) -> df.DFApp:
    """An app with activities ``a`` and ``b`` and ``workflow`` as the orchestrator named "workflow"."""
    app = df.DFApp()

    @app.function_name("a")
    @app.activity_trigger(input_name="value")
    def a(value: str) -> str:
        return f"a({value})"

    @app.function_name("b")
    @app.activity_trigger(input_name="value")
    def b(value: str) -> str:
        return f"b({value})"

    app.function_name("workflow")(app.orchestration_trigger(context_name="context")(workflow))
    return app


# The versions name activities by string: history records names, and each version lives in its own app.


def _calls_a_then_waits(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("a", "x")
    context.set_custom_status("waiting")
    go = yield context.wait_for_external_event("go")
    return [first, go]


def _calls_b_then_waits(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("b", "x")
    context.set_custom_status("waiting")
    go = yield context.wait_for_external_event("go")
    return [first, go]


def _only_waits(context: df.DurableOrchestrationContext):
    go = yield context.wait_for_external_event("go")
    return [go]


def _calls_a_then_b_then_waits(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("a", "x")
    second = yield context.call_activity("b", "y")
    go = yield context.wait_for_external_event("go")
    return [first, second, go]


# app.get_functions() may run once per app: each index is built once per test session.
@functools.cache
def index(version: str) -> FunctionIndex:
    code = {
        "v1": _calls_a_then_waits,
        "v2-other-activity": _calls_b_then_waits,
        "v2-no-activity": _only_waits,
        "v2-one-more-step": _calls_a_then_b_then_waits,
    }[version]
    return FunctionIndex.of_app(_app(code))


@contextmanager
def running(version: str, tables: MemoryTables) -> Iterator[DurableEngine]:
    engine = DurableEngine(index(version), DurableStore(tables, HUB))
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.01)


def started_on_v1_and_waiting(tables: MemoryTables) -> str:
    """An instance of v1 that ran activity ``a`` and now waits for "go"; its engine is stopped."""
    with running("v1", tables) as engine:
        instance_id = engine.start_new("workflow", "deploy-1", None)
        wait_until(lambda: engine.get_record(instance_id).custom_status == '"waiting"')
    stored = DurableStore(tables, HUB)
    assert stored.get_instance(instance_id).status is RuntimeStatus.RUNNING
    return instance_id


def resumed_on(version: str, tables: MemoryTables, instance_id: str):
    with running(version, tables) as engine:
        engine.raise_event(instance_id, "go", json.dumps("now"))
        return engine.wait(instance_id, timeout=5), engine.history(instance_id)


def test_calling_another_activity_at_a_recorded_position_fails_the_instance_naming_both() -> None:
    tables = MemoryTables()
    instance_id = started_on_v1_and_waiting(tables)

    finished, history = resumed_on("v2-other-activity", tables, instance_id)

    assert finished.status is RuntimeStatus.FAILED
    assert "TASK_SCHEDULED 'a'" in finished.output
    assert "'b'" in finished.output
    assert "position 0" in finished.output
    assert [e.get("Name") for e in history if kind_of(e) is EventType.TASK_SCHEDULED] == ["a"]  # b never ran
    completed = [e for e in history if kind_of(e) is EventType.EXECUTION_COMPLETED]
    assert [(e["OrchestrationStatus"], e["Result"]) for e in completed] == [("Failed", finished.output)]


def test_finishing_without_a_recorded_step_fails_the_instance_naming_it() -> None:
    tables = MemoryTables()
    instance_id = started_on_v1_and_waiting(tables)

    finished, _ = resumed_on("v2-no-activity", tables, instance_id)

    assert finished.status is RuntimeStatus.FAILED
    assert "finished without scheduling TASK_SCHEDULED 'a'" in finished.output


def test_the_failure_is_stored_on_the_instance_row() -> None:
    tables = MemoryTables()
    instance_id = started_on_v1_and_waiting(tables)

    finished, _ = resumed_on("v2-other-activity", tables, instance_id)

    stored = DurableStore(tables, HUB).get_instance(instance_id)
    assert (stored.status, stored.output) == (RuntimeStatus.FAILED, finished.output)


def test_code_that_adds_a_step_after_the_recorded_ones_runs_it() -> None:
    tables = MemoryTables()
    instance_id = started_on_v1_and_waiting(tables)

    finished, history = resumed_on("v2-one-more-step", tables, instance_id)

    assert finished.status is RuntimeStatus.COMPLETED
    assert json.loads(finished.output) == ["a(x)", "b(y)", "now"]
    assert [e.get("Name") for e in history if kind_of(e) is EventType.TASK_SCHEDULED] == ["a", "b"]


def test_unchanged_code_resumes_and_completes() -> None:
    tables = MemoryTables()
    instance_id = started_on_v1_and_waiting(tables)

    finished, _ = resumed_on("v1", tables, instance_id)

    assert finished.status is RuntimeStatus.COMPLETED
    assert json.loads(finished.output) == ["a(x)", "now"]
