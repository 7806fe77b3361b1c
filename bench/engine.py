"""Benchmark: the durable engine of the local host against Microsoft's durabletask in-memory backend.

Shapes: a sequential chain of 200 activities and a fan-out/fan-in of 1,000 activities.
- local host: the engine ``python -m controlplane up`` runs, in this process, persisting to Azurite
  (started here on a free loopback port). Every episode replays the orchestrator's whole history, as the
  Functions host runs Python (the Durable extension turns extended sessions off for non-.NET workers),
  so a chain of n steps costs O(n^2) replay work, on Azure as here.
- durabletask: ``durabletask.testing`` in-memory backend (gRPC on loopback) with its worker and client.
- SDK replay ceiling: the 200-step chain replayed through the Durable Functions SDK alone, in memory,
  a full replay at every step, without storage: the bound the local host can approach.

Run: ``.venv/bin/python bench/engine.py``. Prints a table, then one JSON object as the last line.
"""

from __future__ import annotations

import functools
import json
import platform
import sys
import time
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import azure.durable_functions as df

from funchost.azurite import Azurite, free_port
from funchost.durable.engine import DurableEngine
from funchost.durable.history import EventType, event, execution_started
from funchost.durable.replay import OrchestrationReplay, TimerLimits
from funchost.durable.store import DurableStore
from funchost.functions import FunctionIndex
from funchost.storage.account import StorageAccount
from funchost.storage.azure_tables import AzureTables

SEQUENTIAL = 200
FAN_OUT = 1_000

app = df.DFApp()


@app.activity_trigger(input_name="value")
def increment(value: int) -> int:
    return value + 1


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    total = 0
    for _ in range(context.get_input()):
        total = yield context.call_activity(increment, total)
    return total


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    results = yield context.task_all([context.call_activity(increment, n) for n in range(context.get_input())])
    return len(results)


@functools.cache
def index() -> FunctionIndex:
    return FunctionIndex.of_app(app)  # an app may be indexed only once


def local_host(connection: str) -> tuple[float, float]:
    store = DurableStore(AzureTables(StorageAccount(connection).table_service()), "Bench")
    engine = DurableEngine(index(), store)
    engine.start()
    try:
        rates = []
        for name, count in (("chain", SEQUENTIAL), ("fan_out", FAN_OUT)):
            started = time.perf_counter()
            record = engine.wait(engine.start_new(name, None, json.dumps(count)), timeout=600)
            elapsed = time.perf_counter() - started
            assert record.output == json.dumps(count), record
            rates.append(count / elapsed)
        return rates[0], rates[1]
    finally:
        engine.stop()


def durabletask_in_memory() -> tuple[float, float]:
    from durabletask import client as dt_client
    from durabletask import task
    from durabletask import worker as dt_worker
    from durabletask.testing import create_test_backend

    port = free_port()
    backend = create_test_backend(port=port)
    worker = dt_worker.TaskHubGrpcWorker(host_address=f"localhost:{port}")

    def dt_increment(ctx: task.ActivityContext, value: int) -> int:
        return value + 1

    def dt_chain(ctx: task.OrchestrationContext, count: int) -> Generator[task.Task[Any], Any, int]:
        total = 0
        for _ in range(count):
            total = yield ctx.call_activity(dt_increment, input=total)
        return total

    def dt_fan_out(ctx: task.OrchestrationContext, count: int) -> Generator[task.Task[Any], Any, int]:
        results = yield dt_client.task.when_all([ctx.call_activity(dt_increment, input=n) for n in range(count)])
        return len(results)

    # Declared as durabletask's alias: inferring TOutput from a bare function gives mypy Never.
    orchestrators: list[tuple[task.Orchestrator[int, int], int]] = [(dt_chain, SEQUENTIAL), (dt_fan_out, FAN_OUT)]
    worker.add_activity(dt_increment)
    for orchestrator, _ in orchestrators:
        worker.add_orchestrator(orchestrator)
    worker.start()
    client = dt_client.TaskHubGrpcClient(host_address=f"localhost:{port}")
    try:
        rates = []
        for orchestrator, count in orchestrators:
            started = time.perf_counter()
            instance_id = client.schedule_new_orchestration(orchestrator, input=count)
            state = client.wait_for_orchestration_completion(instance_id, timeout=600)
            elapsed = time.perf_counter() - started
            assert state is not None and state.serialized_output is not None, state
            assert json.loads(state.serialized_output) == count, state
            rates.append(count / elapsed)
        return rates[0], rates[1]
    finally:
        worker.stop()
        backend.stop()


def sdk_replay_ceiling() -> float:
    """The chain replayed in memory through the SDK alone: one full replay per step, no storage."""
    handler = index().get("chain").handler
    now = datetime.now(UTC)
    history = [
        event(EventType.ORCHESTRATOR_STARTED, now),
        execution_started(now, "chain", json.dumps(SEQUENTIAL), "ceiling", "x", None),
    ]
    started = time.perf_counter()
    for step in range(SEQUENTIAL):
        outcome = OrchestrationReplay(handler, "ceiling", None, TimerLimits()).replay(history, json.dumps(SEQUENTIAL))
        assert not outcome.is_done
        history += [
            event(EventType.TASK_SCHEDULED, now, step, Name="increment", Input=json.dumps(step)),
            event(EventType.ORCHESTRATOR_COMPLETED, now),
            event(EventType.ORCHESTRATOR_STARTED, now),
            event(EventType.TASK_COMPLETED, now, TaskScheduledId=step, Result=json.dumps(step + 1)),
        ]
    final = OrchestrationReplay(handler, "ceiling", None, TimerLimits()).replay(history, json.dumps(SEQUENTIAL))
    assert final.is_done and final.output == SEQUENTIAL, final.state
    return SEQUENTIAL / (time.perf_counter() - started)


def main() -> None:
    with Azurite(Path(__file__).resolve().parents[1]) as azurite:
        sequential, fanout = local_host(azurite.connection_string)
    dt_sequential, dt_fanout = durabletask_in_memory()
    ceiling = sdk_replay_ceiling()

    print(f"Durable engine benchmark: chain of {SEQUENTIAL} activities, fan-out/fan-in of {FAN_OUT}")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'engine':<52} {'sequential/s':>13} {'fan-out/s':>11}")
    print(f"{'local host, Azurite, full replay every episode':<52} {sequential:>13.0f} {fanout:>11.0f}")
    print(f"{'durabletask in-memory test backend (gRPC)':<52} {dt_sequential:>13.0f} {dt_fanout:>11.0f}")
    print(f"{'SDK alone, full replay per step, no storage':<52} {ceiling:>13.0f} {'-':>11}")
    print(
        json.dumps(
            {
                "sequential_activities_per_s": round(sequential, 1),
                "fanout_activities_per_s": round(fanout, 1),
                "durabletask_sequential_activities_per_s": round(dt_sequential, 1),
                "durabletask_fanout_activities_per_s": round(dt_fanout, 1),
                "sdk_replay_ceiling_sequential_per_s": round(ceiling, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
