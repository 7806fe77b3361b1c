"""host.json ``functionTimeout`` read and checked as the Functions host does on Flex Consumption
(``ScriptJobHostOptionsSetup.ConfigureFunctionTimeout`` in Azure/azure-functions-host), and the worker pool's
bound on one invocation, with the WebJobs SDK's words (``FunctionExecutor.cs`` in Azure/azure-webjobs-sdk).
Functions block on an Event until the test lets them go; nothing is timed."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import azure.functions as func
import pytest

from funchost.function_timeout import DEFAULT_FUNCTION_TIMEOUT, FunctionTimeoutError, timespan_text
from funchost.functions import FunctionIndex
from funchost.servicebus.options import InvalidHostJson
from funchost.settings import function_timeout
from funchost.worker_pool import WorkerPool

TINY = timedelta(seconds=0.2)
WAIT = 20.0  # a safeguard for what must happen, not a measure

released = threading.Event()
cancelled = threading.Event()
app = func.FunctionApp()


@app.route(route="held", auth_level=func.AuthLevel.ANONYMOUS)
def held(req: func.HttpRequest) -> str:
    released.wait(WAIT)
    return "late"


@app.route(route="held-async", auth_level=func.AuthLevel.ANONYMOUS)
async def held_async(req: func.HttpRequest) -> str:
    try:
        await asyncio.sleep(WAIT)
    except asyncio.CancelledError:
        cancelled.set()
        raise
    return "late"


@app.route(route="own-timeout", auth_level=func.AuthLevel.ANONYMOUS)
def own_timeout(req: func.HttpRequest) -> str:
    raise TimeoutError("the function's own socket timed out")


INDEX = FunctionIndex.of_app(app)


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    released.clear()
    cancelled.clear()
    worker = WorkerPool(function_timeout=TINY)
    yield worker
    released.set()
    worker.shutdown()


def host_json(tmp_path: Path, value: object) -> Path:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "functionTimeout": value}))
    return tmp_path


def test_without_the_setting_flex_consumptions_default_of_30_minutes_applies(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    assert function_timeout(tmp_path) == DEFAULT_FUNCTION_TIMEOUT == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("value", "timeout"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("00:00:01", timedelta(seconds=1)),
        ("02:00:00", timedelta(hours=2)),  # no upper bound but TimeSpan's own on Flex Consumption
        (5, timedelta(days=5)),  # the binder reads a JSON number as its text: a TimeSpan of days
        ("-1", None),  # minus one day: no timeout (plans other than Consumption)
        ("-1.00:00:00", None),
    ],
)
def test_function_timeout_reads_as_the_host_binds_it(tmp_path: Path, value: object, timeout: timedelta | None) -> None:
    assert function_timeout(host_json(tmp_path, value)) == timeout


@pytest.mark.parametrize("value", ["ten minutes", "00:61:00", True, 2.5, ["00:10:00"]])
def test_a_value_that_is_not_a_timespan_is_refused_naming_the_setting(tmp_path: Path, value: object) -> None:
    with pytest.raises(InvalidHostJson) as raised:
        function_timeout(host_json(tmp_path, value))
    [error] = raised.value.errors
    assert error.path == "functionTimeout"
    assert error.reason == f'must be a TimeSpan such as "00:10:00", or -1 for no timeout (got {value!r})'


@pytest.mark.parametrize("value", ["00:00:00.5", "00:00:00", "-00:00:30", "-2"])
def test_a_value_below_one_second_is_refused_in_the_hosts_words(tmp_path: Path, value: str) -> None:
    with pytest.raises(InvalidHostJson) as raised:
        function_timeout(host_json(tmp_path, value))
    [error] = raised.value.errors
    assert error.path == "functionTimeout"
    assert error.reason == (
        f"FunctionTimeout must be greater than 00:00:01 and less than 10675199.02:48:05.4775807. (got {value!r})"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=10), "00:10:00"),
        (timedelta(seconds=0.2), "00:00:00.2000000"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "1.02:03:04"),
        (timedelta(days=-1), "-1.00:00:00"),
        (timedelta(microseconds=1), "00:00:00.0000010"),
    ],
)
def test_a_timeout_is_written_as_dotnet_writes_a_timespan(value: timedelta, text: str) -> None:
    assert timespan_text(value) == text


def test_a_sync_invocation_past_the_timeout_fails_with_the_hosts_exception_and_log_line(
    pool: WorkerPool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="funchost.host"), pytest.raises(FunctionTimeoutError) as raised:
        pool.invoke(INDEX.get("held"), {"req": None})
    assert str(raised.value) == "Timeout value of 00:00:00.2000000 was exceeded by function: Functions.held"
    assert caplog.messages[0] == (
        f"Timeout value of 00:00:00.2000000 exceeded by function 'Functions.held' (Id: '{raised.value.invocation_id}')"
        ". Initiating cancellation."
    )
    assert caplog.messages[1].startswith("A function timeout has occurred. The local host cannot restart")


def test_a_function_raising_timeout_error_itself_fails_with_its_own_error_not_the_hosts(pool: WorkerPool) -> None:
    with pytest.raises(TimeoutError, match="the function's own socket timed out") as raised:
        pool.invoke(INDEX.get("own_timeout"), {"req": None})
    assert not isinstance(raised.value, FunctionTimeoutError)


def test_an_async_invocation_past_the_timeout_is_cancelled(pool: WorkerPool) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    pool.loop = loop
    try:
        with pytest.raises(FunctionTimeoutError, match=r"exceeded by function: Functions\.held_async"):
            pool.invoke(INDEX.get("held_async"), {"req": None})
        assert cancelled.wait(WAIT)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        loop.close()


def test_without_a_timeout_an_invocation_runs_to_its_end(pool: WorkerPool) -> None:
    unbounded = WorkerPool(function_timeout=None)
    released.set()
    assert unbounded.invoke(INDEX.get("held"), {"req": None}) == "late"
    unbounded.shutdown()
