"""Where function code runs: one thread pool for every sync function and one event loop for every async one,
as the Python worker runs them on Azure.

The worker (``Dispatcher._handle__invocation_request`` in azure_functions_worker/dispatcher.py of
Azure/azure-functions-python-worker, the worker for Python 3.11; ``invocation_request`` in
azure_functions_runtime/handle_event.py of azure-functions-runtime 1.3.0 alike) awaits an async function on
its one event loop and hands a sync function to its one ``ThreadPoolExecutor``, whatever the trigger: HTTP,
timer, Service Bus, activity, and orchestrator too (the Durable SDK's orchestrator handle is a sync function,
``Orchestrator.create`` in azure-functions-durable). So a slow sync function holds a thread every other sync
function of the app is waiting for.

The pool's size is the ``PYTHON_THREADPOOL_THREAD_COUNT`` app setting (``Dispatcher._get_sync_tp_max_workers``):
an integer of at least 1, with no upper bound; unset, the worker passes ``max_workers=None`` (Python 3.9 and
later), which is Python's own default, ``min(32, os.cpu_count() + 4)``. A value that is not an integer or is
below 1 is not refused: the worker logs a warning and falls back to that default. So does this module, with
the worker's words.

Every invocation (``invoke``, ``invoke_async``) is bounded by host.json's ``functionTimeout``, as the host
bounds it (``funchost.function_timeout``). A sync function's thread cannot be stopped in Python: where
Azure restarts the worker process, the invocation is failed here and the function runs on in the background,
its result ignored, holding its pool thread until it returns. An async function is cancelled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from funchost.function_timeout import DEFAULT_FUNCTION_TIMEOUT, timed_out
from funchost.functions import FunctionEntry

log = logging.getLogger("funchost.host")

PYTHON_THREADPOOL_THREAD_COUNT = "PYTHON_THREADPOOL_THREAD_COUNT"
_MIN_THREADS = 1  # PYTHON_THREADPOOL_THREAD_COUNT_MIN in the worker's constants.py
_T = TypeVar("_T")


def thread_count(app_settings: Mapping[str, str]) -> int | None:
    """The pool size the worker takes from ``PYTHON_THREADPOOL_THREAD_COUNT``; None (Python's default) when it
    is unset or the worker would not take it (logged with the worker's warning)."""
    value = app_settings.get(PYTHON_THREADPOOL_THREAD_COUNT)
    if value is None:
        return None
    try:
        count = int(value)
    except ValueError:
        log.warning("%s must be an integer", PYTHON_THREADPOOL_THREAD_COUNT)
        return None
    if count < _MIN_THREADS:
        log.warning(
            "%s must be set to a value between %s and sys.maxint. Reverting to default value for max_workers",
            PYTHON_THREADPOOL_THREAD_COUNT,
            _MIN_THREADS,
        )
        return None
    return count


class WorkerPool:
    """The worker's thread pool for sync functions, and the event loop async functions run on.

    ``loop`` is set by the host once its event loop runs (the HTTP gateway's loop): one loop, as the worker has,
    which the Durable SDK's client needs (it keeps one HTTP session per process, bound to one loop).
    ``function_timeout``: host.json's ``functionTimeout`` (None: no timeout, host.json's ``-1``).
    """

    def __init__(
        self, max_workers: int | None = None, function_timeout: timedelta | None = DEFAULT_FUNCTION_TIMEOUT
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="python-worker")
        self.loop: asyncio.AbstractEventLoop | None = None
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self.function_timeout = function_timeout

    @classmethod
    def from_app_settings(
        cls, app_settings: Mapping[str, str], function_timeout: timedelta | None = DEFAULT_FUNCTION_TIMEOUT
    ) -> WorkerPool:
        """Sized by ``PYTHON_THREADPOOL_THREAD_COUNT`` as the worker sizes its pool."""
        return cls(thread_count(app_settings), function_timeout)

    @property
    def max_workers(self) -> int:
        """The pool's size, read from the executor as the worker reads it for its invocation log line."""
        return self._pool._max_workers

    def call(self, function: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """Run sync ``function`` on the pool and wait for it; from a host thread, never from the event loop."""
        return self._pool.submit(function, *args, **kwargs).result()

    def invoke(self, entry: FunctionEntry, arguments: dict[str, Any]) -> Any:
        """Run ``entry``'s function with ``arguments`` and wait for its result, from a host thread: a sync function
        on the pool, an async one on the event loop. FunctionTimeoutError once it runs past ``function_timeout``."""
        if not entry.is_async:
            future = self._pool.submit(entry.handler, **arguments)
        elif self.loop is None:
            raise RuntimeError(f"{entry.name}: async functions run once the host's event loop is up")
        else:
            future = asyncio.run_coroutine_threadsafe(entry.handler(**arguments), self.loop)
        timeout = self.function_timeout
        # wait() rather than result(timeout): a function that raises TimeoutError itself is not a host timeout.
        done, _ = concurrent.futures.wait([future], None if timeout is None else timeout.total_seconds())
        if not done:
            assert timeout is not None
            future.cancel()  # cancels an async function; a running sync one cannot be stopped
            raise timed_out(entry.name, timeout, str(uuid.uuid4()))
        return future.result()

    async def invoke_async(self, entry: FunctionEntry, arguments: dict[str, Any]) -> Any:
        """``invoke`` from the event loop (the HTTP gateway): awaits the function, bounded alike."""
        if entry.is_async:
            task: asyncio.Future[Any] = asyncio.ensure_future(entry.handler(**arguments))
        else:
            task = asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(entry.handler, **arguments))
        timeout = self.function_timeout
        done, _ = await asyncio.wait({task}, timeout=None if timeout is None else timeout.total_seconds())
        if not done:
            assert timeout is not None
            task.cancel()
            raise timed_out(entry.name, timeout, str(uuid.uuid4()))
        return task.result()

    def run_own_loop(self) -> None:
        """Run an event loop of the pool's own on a thread, for a host with no event loop of its own to lend (the
        durable engine on its own): the worker always has one, so async functions always run."""
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="python-worker-loop", daemon=True).start()
        self.loop, self._own_loop = loop, loop

    def shutdown(self) -> None:
        """Stop taking work; what runs finishes in the background, what waits is cancelled."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._own_loop is not None:
            self._own_loop.call_soon_threadsafe(self._own_loop.stop)
