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
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from controlplane.local.functions import FunctionEntry

log = logging.getLogger("controlplane.host")

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
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="python-worker")
        self.loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_app_settings(cls, app_settings: Mapping[str, str]) -> WorkerPool:
        """Sized by ``PYTHON_THREADPOOL_THREAD_COUNT`` as the worker sizes its pool."""
        return cls(thread_count(app_settings))

    @property
    def max_workers(self) -> int:
        """The pool's size, read from the executor as the worker reads it for its invocation log line."""
        return self._pool._max_workers

    def call(self, function: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """Run sync ``function`` on the pool and wait for it; from a host thread, never from the event loop."""
        return self._pool.submit(function, *args, **kwargs).result()

    async def call_async(self, function: Callable[..., _T], /, **kwargs: Any) -> _T:
        """Run sync ``function`` on the pool and await it, from the event loop (the worker's ``run_in_executor``)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(function, **kwargs))

    def invoke(self, entry: FunctionEntry, arguments: dict[str, Any]) -> Any:
        """Run ``entry``'s function with ``arguments`` and wait for its result, from a host thread: a sync function
        on the pool, an async one on the event loop."""
        if not entry.is_async:
            return self.call(entry.handler, **arguments)
        if self.loop is None:
            raise RuntimeError(f"{entry.name}: async functions run once the host's event loop is up")
        return asyncio.run_coroutine_threadsafe(entry.handler(**arguments), self.loop).result()

    def shutdown(self) -> None:
        """Stop taking work; what runs finishes in the background, what waits is cancelled."""
        self._pool.shutdown(wait=False, cancel_futures=True)
