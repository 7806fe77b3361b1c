"""The Durable extension's throttles: host.json ``maxConcurrentActivityFunctions`` and
``maxConcurrentOrchestratorFunctions``, read, checked and applied as the extension does
(``DurableTaskOptions.Validate`` and ``AzureStorageDurabilityProviderFactory`` in
Azure/azure-functions-durable-extension). The engine runs on in-memory tables, orchestrations through the SDK's
replay; concurrency is counted by the functions themselves (apps/worker_pool_app.py), never timed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.durable.engine import DurableEngine
from funchost.durable.history import RuntimeStatus
from funchost.durable.store import DurableStore
from funchost.servicebus.options import InvalidHostJson
from funchost.settings import DurableConcurrency
from funchost.storage.memory_tables import MemoryTables
from funchost.tests.apps.worker_pool_app import WAIT, gauge, index
from funchost.worker_pool import WorkerPool


def host_json(tmp_path: Path, durable_task: dict) -> Path:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": durable_task}}))
    return tmp_path


def test_without_settings_the_extensions_consumption_plan_defaults_apply(tmp_path: Path) -> None:
    assert DurableConcurrency.from_host_json(host_json(tmp_path, {})) == DurableConcurrency(10, 5)


@pytest.mark.parametrize("value", [0, -1, "10", 2.5, True])
def test_a_throttle_that_is_not_a_positive_integer_is_refused_in_the_extensions_words(
    tmp_path: Path, value: object
) -> None:
    root = host_json(tmp_path, {"maxConcurrentActivityFunctions": value})
    with pytest.raises(InvalidHostJson) as raised:
        DurableConcurrency.from_host_json(root)
    [error] = raised.value.errors
    assert error.path == "extensions.durableTask.maxConcurrentActivityFunctions"
    assert error.reason == f"MaxConcurrentActivityFunctions must be a positive integer value. (got {value!r})"


def test_every_bad_throttle_is_named(tmp_path: Path) -> None:
    root = host_json(tmp_path, {"maxConcurrentActivityFunctions": 0, "maxConcurrentOrchestratorFunctions": 0})
    with pytest.raises(InvalidHostJson) as raised:
        DurableConcurrency.from_host_json(root)
    assert [error.path for error in raised.value.errors] == [
        "extensions.durableTask.maxConcurrentActivityFunctions",
        "extensions.durableTask.maxConcurrentOrchestratorFunctions",
    ]


@pytest.fixture
def limited() -> Iterator[tuple[DurableEngine, WorkerPool]]:
    """An engine allowing 3 activities and 2 episodes at once, on a worker pool large enough not to limit them."""
    gauge.reset()
    worker = WorkerPool(8)
    engine = DurableEngine(
        index(), DurableStore(MemoryTables(), "Limits"), concurrency=DurableConcurrency(3, 2), worker=worker
    )
    engine.start()
    yield engine, worker
    gauge.release()
    engine.stop()
    worker.shutdown()


def activities_held_back(engine: DurableEngine) -> int:
    """Activities dispatched but waiting for one of the throttle's slots (the engine's slot queue)."""
    return engine._work._activities._work_queue.qsize()


def episodes_held_back(engine: DurableEngine) -> int:
    """Instances with an episode to run, waiting for one of the throttle's orchestrator threads."""
    return engine._ready.qsize()


def test_no_more_activities_run_at_once_than_max_concurrent_activity_functions(
    limited: tuple[DurableEngine, WorkerPool],
) -> None:
    engine, _ = limited
    instance_id = engine.start_new("slow_fan_out", None, json.dumps(4))

    gauge.wait_until(lambda: gauge.running == 3 and activities_held_back(engine) == 1, "3 running, the 4th held back")
    assert gauge.running == 3
    gauge.release()

    record = engine.wait(instance_id, WAIT)
    assert (record.status, record.output) == (RuntimeStatus.COMPLETED, "6")
    assert (gauge.most, gauge.finished) == (3, 4)


def test_no_more_orchestrator_episodes_run_at_once_than_max_concurrent_orchestrator_functions(
    limited: tuple[DurableEngine, WorkerPool],
) -> None:
    engine, _ = limited
    instance_ids = [engine.start_new("slow_orchestrator", None, None) for _ in range(3)]

    gauge.wait_until(lambda: gauge.running == 2 and episodes_held_back(engine) == 1, "2 running, the 3rd held back")
    assert gauge.running == 2
    gauge.release()

    for instance_id in instance_ids:
        record = engine.wait(instance_id, WAIT)
        assert (record.status, record.output) == (RuntimeStatus.COMPLETED, json.dumps(instance_id))
    assert (gauge.most, gauge.finished) == (2, 3)


def test_activities_also_wait_for_the_workers_thread_pool() -> None:
    """The throttle allows 10, the worker's pool has 2 threads: 2 run at once, as on Azure."""
    gauge.reset()
    worker = WorkerPool(2)
    engine = DurableEngine(index(), DurableStore(MemoryTables(), "Pool"), worker=worker)
    engine.start()
    try:
        instance_id = engine.start_new("slow_fan_out", None, json.dumps(3))
        gauge.wait_until(lambda: gauge.running == 2 and worker._pool._work_queue.qsize() == 1, "2 running, 1 queued")
        assert gauge.running == 2
        gauge.release()
        record = engine.wait(instance_id, WAIT)
        assert (record.status, gauge.most, gauge.finished) == (RuntimeStatus.COMPLETED, 2, 3)
    finally:
        gauge.release()
        engine.stop()
        worker.shutdown()
