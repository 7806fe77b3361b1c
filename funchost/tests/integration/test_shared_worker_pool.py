"""One thread pool for every sync function, as the Python worker has on Azure: with
``PYTHON_THREADPOOL_THREAD_COUNT=2``, an activity, an HTTP request over a real socket, a timer firing and a
Service Bus delivery, all slow sync functions, run two at a time, whatever their triggers
(``Dispatcher._handle__invocation_request`` in azure_functions_worker/dispatcher.py of
Azure/azure-functions-python-worker: every sync invocation goes to the one ``_sync_call_tp``).

The host's pieces are wired as ``LocalHost`` wires them: the HTTP gateway, the Invoker the timer scheduler and
the local bus call, the durable engine, all given the same WorkerPool. Concurrency is counted by the functions
(apps/worker_pool_app.py), never timed.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from funchost.durable.engine import DurableEngine
from funchost.durable.history import RuntimeStatus
from funchost.durable.store import DurableStore
from funchost.functions import SERVICE_BUS, TIMER
from funchost.http_gateway import build_http_app
from funchost.invoker import Invoker
from funchost.keys import KeyStore
from funchost.servicebus.bus import LocalBus
from funchost.servicebus.message import Message
from funchost.servicebus.options import ServiceBusOptions
from funchost.servicebus.records import DELIVERED
from funchost.storage.memory_tables import MemoryTables
from funchost.tests.apps.worker_pool_app import WAIT, gauge, index
from funchost.tests.served_gateway import served
from funchost.timers import TimerScheduler
from funchost.worker_pool import PYTHON_THREADPOOL_THREAD_COUNT, WorkerPool

START = datetime(2026, 1, 5, 9, 1, tzinfo=UTC)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[WorkerPool, str]]:
    """The worker pool the app setting sizes, and the base URL of an HTTP gateway on it (loop on a thread)."""
    gauge.reset()
    worker = WorkerPool.from_app_settings({PYTHON_THREADPOOL_THREAD_COUNT: "2"})
    with served(build_http_app(index(), KeyStore(tmp_path / "secrets"), worker=worker), worker) as url:
        yield worker, url
        gauge.release()
    worker.shutdown()


def waiting(worker: WorkerPool) -> int:
    """Invocations handed to the pool that no thread has taken yet (the executor's queue)."""
    return worker._pool._work_queue.qsize()


def test_sync_functions_of_every_trigger_share_the_workers_thread_count(worker: tuple[WorkerPool, str]) -> None:
    pool, base_url = worker
    invoker = Invoker(lambda _name: "", pool)
    engine = DurableEngine(index(), DurableStore(MemoryTables(), "Shared"), worker=pool)
    timers = TimerScheduler(
        index().of_type(TIMER), lambda entry, info: invoker(entry, info.to_request()), MemoryTables(),
        lambda: START, {},
    )  # fmt: skip
    bus = LocalBus(MemoryTables(), index().of_type(SERVICE_BUS), invoker, options=ServiceBusOptions(4))
    bus.create_tables()
    replies: list[bytes] = []
    fired: list[list[str]] = []
    callers = [
        threading.Thread(target=lambda: replies.append(urllib.request.urlopen(f"{base_url}/api/slow").read())),
        threading.Thread(target=lambda: fired.append(timers.run_due(START + timedelta(minutes=5)))),
    ]
    engine.start()
    try:
        instance_id = engine.start_new("slow_fan_out", None, "1")
        gauge.wait_until(lambda: gauge.running == 1, "the activity running")
        for caller in callers:
            caller.start()
        bus.publish([Message("m-1", "trace", "Note", "text/plain", {}, b"hello")], to="events")
        bus.start()

        gauge.wait_until(lambda: gauge.running == 2 and waiting(pool) == 2, "2 running, 2 waiting for a thread")
        assert gauge.running == 2
        gauge.release()

        for caller in callers:
            caller.join(WAIT)
        assert engine.wait(instance_id, WAIT).status is RuntimeStatus.COMPLETED
        bus.stop()
        assert (replies, fired, [d.state for d in bus.deliveries("m-1")]) == ([b"done"], [["slow_timer"]], [DELIVERED])
        assert (gauge.most, gauge.finished) == (2, 4)
    finally:
        gauge.release()
        bus.stop()
        engine.stop()


def test_an_async_activity_runs_on_the_event_loop_not_on_the_pool(worker: tuple[WorkerPool, str]) -> None:
    pool, _ = worker
    engine = DurableEngine(index(), DurableStore(MemoryTables(), "Async"), worker=pool)
    engine.start()
    try:
        record = engine.wait(engine.start_new("async_activity", None, None), WAIT)
    finally:
        engine.stop()
    assert (record.status, record.output) == (RuntimeStatus.COMPLETED, '"http-gateway"')
