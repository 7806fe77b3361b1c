"""host.json ``functionTimeout`` bounds every invocation of every trigger, and each trigger sees the failure it
sees on Azure (``FunctionExecutor`` in Azure/azure-webjobs-sdk; ``TaskActivityShim`` in
Azure/azure-functions-durable-extension): an HTTP client a 500, an activity a TaskFailed in the extension's
``Activity function 'X' failed: ...`` form, a Service Bus message abandoned, a timer firing failed.

The host's pieces are wired as ``LocalHost`` wires them, on one WorkerPool given a tiny timeout; the functions
(apps/worker_pool_app.py) hold until the test lets them go, so the timeout always fires first. Nothing is timed.
"""

from __future__ import annotations

import logging
import urllib.error
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
from funchost.servicebus.records import DELIVERED, PENDING
from funchost.storage.memory_tables import MemoryTables
from funchost.tests.apps.worker_pool_app import WAIT, gauge, index
from funchost.tests.served_gateway import served
from funchost.timers import TimerScheduler
from funchost.worker_pool import WorkerPool

TINY = timedelta(seconds=0.2)
START = datetime(2026, 1, 5, 9, 1, tzinfo=UTC)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[WorkerPool, str]]:
    """A worker pool with a 0.2 s functionTimeout, and the base URL of an HTTP gateway on it (loop on a thread)."""
    gauge.reset()
    worker = WorkerPool(function_timeout=TINY)
    with served(build_http_app(index(), KeyStore(tmp_path / "secrets"), worker=worker), worker) as url:
        yield worker, url
        gauge.release()
    worker.shutdown()


def test_an_http_function_past_the_timeout_answers_500_with_an_empty_body(
    worker: tuple[WorkerPool, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, base_url = worker
    with caplog.at_level(logging.ERROR, logger="funchost.host"), pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{base_url}/api/slow", timeout=WAIT)
    assert (raised.value.code, raised.value.read()) == (500, b"")
    [logged] = caplog.messages
    assert logged.startswith("Timeout value of 00:00:00.2000000 exceeded by function 'Functions.slow_http' (Id: '")
    assert logged.endswith("'). Initiating cancellation.")
    assert gauge.running == 1  # the sync function still holds its thread: Python cannot stop it


def test_an_activity_past_the_timeout_fails_the_orchestration_with_the_extensions_reason(
    worker: tuple[WorkerPool, str],
) -> None:
    pool, _ = worker
    engine = DurableEngine(index(), DurableStore(MemoryTables(), "Timeout"), worker=pool)
    engine.start()
    try:
        record = engine.wait(engine.start_new("slow_fan_out", None, "1"), WAIT)
    finally:
        gauge.release()
        engine.stop()
    assert record.status is RuntimeStatus.FAILED
    assert (
        "Activity function 'slow_activity' failed: "
        "Timeout value of 00:00:00.2000000 was exceeded by function: Functions.slow_activity"
    ) in record.output


def test_a_service_bus_delivery_past_the_timeout_fails_and_the_message_is_abandoned(
    worker: tuple[WorkerPool, str],
) -> None:
    pool, _ = worker
    bus = LocalBus(
        MemoryTables(),
        index().of_type(SERVICE_BUS),
        Invoker(lambda _name: "", pool),
        options=ServiceBusOptions(1),
    )
    bus.create_tables()
    bus.publish([Message("m-1", "trace", "Note", "text/plain", {}, b"hello")], to="events")
    try:
        assert bus.deliver_due() == 1
        [abandoned] = bus.deliveries("m-1")
    finally:
        gauge.release()
    try:
        assert bus.deliver_due() == 1  # abandoned, it is due again at once: the function now returns in time
        [redelivered] = bus.deliveries("m-1")
    finally:
        bus.stop()
    assert (abandoned.state, abandoned.delivery_count) == (PENDING, 1)
    assert abandoned.last_error == (
        "FunctionTimeoutError: Timeout value of 00:00:00.2000000 was exceeded by function: Functions.slow_message"
    )
    assert (redelivered.state, redelivered.delivery_count) == (DELIVERED, 2)


def test_a_timer_firing_past_the_timeout_fails_and_its_schedule_continues(
    worker: tuple[WorkerPool, str], caplog: pytest.LogCaptureFixture
) -> None:
    pool, _ = worker
    invoker = Invoker(lambda _name: "", pool)
    timers = TimerScheduler(
        index().of_type(TIMER), lambda entry, info: invoker(entry, info.to_request()), MemoryTables(),
        lambda: START, {},
    )  # fmt: skip
    with caplog.at_level(logging.ERROR):
        try:
            fired = timers.run_due(START + timedelta(minutes=5))
        finally:
            gauge.release()
    assert fired == ["slow_timer"]
    [failure] = [record for record in caplog.records if record.name != "funchost.host"]
    assert failure.getMessage() == "timer function slow_timer failed; its schedule continues"
    assert failure.exc_info is not None
    assert (
        str(failure.exc_info[1]) == "Timeout value of 00:00:00.2000000 was exceeded by function: Functions.slow_timer"
    )
    assert timers.next_due() == datetime(2026, 1, 5, 9, 10, tzinfo=UTC)  # the next */5 minute after the firing
