"""Calling a non-HTTP function (timer, Service Bus) as the Functions host does, bindings included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from funchost.functions import DURABLE_CLIENT, FunctionEntry
from funchost.worker_pool import WorkerPool


class Invoker:
    """Passes the trigger value, plus the durable client binding when the function declares one, and runs the
    function where the Python worker runs it (``worker``: sync functions on its one thread pool, async ones on
    its one event loop); waits for it to finish, at most the worker's ``functionTimeout``: past it the call raises
    ``FunctionTimeoutError``, which fails the timer firing or the Service Bus delivery. Without ``worker``, a pool
    of its own of the worker's default size (no event loop: async functions are refused)."""

    def __init__(self, client_binding: Callable[[str], str], worker: WorkerPool | None = None) -> None:
        self._client_binding = client_binding
        self._worker = worker or WorkerPool()

    def __call__(self, entry: FunctionEntry, trigger_value: Any) -> None:
        arguments = {entry.trigger_name: trigger_value}
        for binding in entry.inputs:
            if binding["type"] != DURABLE_CLIENT:
                raise RuntimeError(
                    f"{entry.name}: input binding {binding['type']!r} is not supported by the local host"
                )
            arguments[binding["name"]] = self._client_binding(entry.name)
        self._worker.invoke(entry, arguments)
