"""An app that selects the Durable Task Scheduler (``azureManaged``) meets the scheduler's limits in the local engine:
1 MB per payload (orchestration input and output, activity input and output, external event data) and instance ids
of at most 100 printable ASCII characters. Under Azure Storage the same engine takes them, as Azure does."""

from __future__ import annotations

import json
from collections.abc import Iterator

import azure.durable_functions as df
import pytest

from funchost.durable.backend_limits import (
    AZURE_STORAGE_LIMITS,
    DTS_MAX_PAYLOAD_BYTES,
    SCHEDULER_LIMITS,
    BackendLimits,
    InvalidInstanceId,
    PayloadTooLarge,
    backend_limits,
)
from funchost.durable.engine import DurableEngine
from funchost.durable.history import EventType, RuntimeStatus, kind_of
from funchost.durable.store import DurableStore, InstanceRecord
from funchost.errors import NotFound
from funchost.functions import FunctionIndex
from funchost.storage.memory_tables import MemoryTables

app = df.DFApp()
OVER = DTS_MAX_PAYLOAD_BYTES  # a string of this many characters is 2 bytes over the limit as JSON (its quotes)


@app.activity_trigger(input_name="size")
def text_of(size: int) -> str:
    return "x" * size


@app.activity_trigger(input_name="text")
def length(text: str) -> int:
    return len(text)


@app.orchestration_trigger(context_name="context")
def sends(context: df.DurableOrchestrationContext):
    """Sends an activity an input of ``context.get_input()`` characters."""
    return (yield context.call_activity(length, "x" * context.get_input()))


@app.orchestration_trigger(context_name="context")
def receives(context: df.DurableOrchestrationContext):
    """Asks an activity for ``context.get_input()`` characters; an activity failure is its output."""
    try:
        return len((yield context.call_activity(text_of, context.get_input())))
    except Exception as error:
        return f"failed: {error}"


@app.orchestration_trigger(context_name="context")
def answers(context: df.DurableOrchestrationContext):
    """Returns ``context.get_input()`` characters."""
    yield context.call_activity(length, "")
    return "x" * context.get_input()


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    """Starts ``answers`` as a sub-orchestration under the instance id it is given."""
    return (yield context.call_sub_orchestrator("answers", 1, context.get_input()))


_index = FunctionIndex.of_app(app)


def engine_of(backend: BackendLimits) -> Iterator[DurableEngine]:
    engine = DurableEngine(_index, DurableStore(MemoryTables(), "Limits"), backend=backend)
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def scheduler() -> Iterator[DurableEngine]:
    yield from engine_of(SCHEDULER_LIMITS)


@pytest.fixture
def azure_storage() -> Iterator[DurableEngine]:
    yield from engine_of(AZURE_STORAGE_LIMITS)


def run(engine: DurableEngine, name: str, value: object, instance_id: str | None = None) -> InstanceRecord:
    return engine.wait(engine.start_new(name, instance_id, json.dumps(value)), timeout=30)


def test_azure_managed_selects_the_scheduler_s_limits_and_every_other_provider_azure_storage_s() -> None:
    assert backend_limits("azureManaged") is SCHEDULER_LIMITS
    assert backend_limits("AzureStorage") == backend_limits("mssql") == AZURE_STORAGE_LIMITS
    assert (SCHEDULER_LIMITS.max_payload_bytes, SCHEDULER_LIMITS.max_instance_id_length) == (1_048_576, 100)


def test_instance_ids_are_held_to_100_printable_ascii_characters(
    scheduler: DurableEngine, azure_storage: DurableEngine
) -> None:
    assert scheduler.start_new("answers", "i" * 100, "1") == "i" * 100
    with pytest.raises(InvalidInstanceId, match="101 characters long: the Durable Task Scheduler takes 1 to 100"):
        scheduler.start_new("answers", "i" * 101, "1")
    with pytest.raises(InvalidInstanceId, match="printable ASCII only"):
        scheduler.start_new("answers", "déploiement-1", "1")
    assert azure_storage.start_new("answers", "i" * 101, "1") == "i" * 101  # the extension's 256 there
    assert azure_storage.start_new("answers", "déploiement-1", "1") == "déploiement-1"


def test_an_orchestration_input_over_1_mb_is_refused_at_the_start(
    scheduler: DurableEngine, azure_storage: DurableEngine
) -> None:
    at_limit = json.dumps("x" * (DTS_MAX_PAYLOAD_BYTES - 2))
    assert scheduler.start_new("answers", "at-limit", at_limit) == "at-limit"  # exactly 1,048,576 bytes: taken
    with pytest.raises(PayloadTooLarge, match="orchestration input is 1,048,578 bytes of JSON"):
        scheduler.start_new("answers", "too-big", json.dumps("x" * OVER))
    with pytest.raises(NotFound):
        scheduler.get_record("too-big")  # nothing was created
    assert azure_storage.start_new("answers", "big", json.dumps("x" * OVER)) == "big"


def test_an_activity_input_over_1_mb_fails_the_orchestration_and_schedules_nothing(
    scheduler: DurableEngine, azure_storage: DurableEngine
) -> None:
    record = run(scheduler, "sends", OVER)

    assert record.status is RuntimeStatus.FAILED
    assert record.output == (
        "Orchestrator function 'sends' failed: The input of activity 'length' is 1,048,578 bytes of JSON; the "
        "Durable Task Scheduler takes at most 1,048,576 bytes (1 MB) per payload. Keep payloads small: store the "
        "data elsewhere and pass a reference."
    )
    assert not [e for e in scheduler.history(record.instance_id) if kind_of(e) is EventType.TASK_SCHEDULED]
    assert run(scheduler, "sends", OVER - 2).output == str(OVER - 2)  # exactly 1 MB of JSON
    assert run(azure_storage, "sends", OVER).output == str(OVER)


def test_an_activity_output_over_1_mb_reaches_the_orchestrator_as_a_failed_activity(
    scheduler: DurableEngine, azure_storage: DurableEngine
) -> None:
    record = run(scheduler, "receives", OVER)

    assert record.status is RuntimeStatus.COMPLETED
    output = json.loads(record.output)
    assert output.startswith("failed: Activity function 'text_of' failed: The output of activity 'text_of' is")
    assert "1,048,578 bytes" in output
    assert json.loads(run(azure_storage, "receives", OVER).output) == OVER


def test_an_orchestration_output_over_1_mb_fails_it(scheduler: DurableEngine, azure_storage: DurableEngine) -> None:
    record = run(scheduler, "answers", OVER)

    assert record.status is RuntimeStatus.FAILED
    assert "The orchestration output is 1,048,578 bytes of JSON" in record.output
    assert run(azure_storage, "answers", OVER).status is RuntimeStatus.COMPLETED


def test_a_sub_orchestration_id_over_100_characters_fails_the_parent(scheduler: DurableEngine) -> None:
    record = run(scheduler, "parent", "c" * 101)

    assert record.status is RuntimeStatus.FAILED
    assert "is 101 characters long" in record.output
    assert run(scheduler, "parent", "c" * 100).status is RuntimeStatus.COMPLETED


def test_external_event_data_over_1_mb_is_refused(scheduler: DurableEngine) -> None:
    scheduler.start_new("answers", "waiting", "1")
    with pytest.raises(PayloadTooLarge, match="data of external event 'Approval' is 1,048,578 bytes"):
        scheduler.raise_event("waiting", "Approval", json.dumps("x" * OVER))
