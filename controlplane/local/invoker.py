"""Calling a non-HTTP function (timer, Service Bus) as the Functions host does, bindings included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from controlplane.local.functions import DURABLE_CLIENT, FunctionEntry


class Invoker:
    """Passes the trigger value, plus the durable client binding when the function declares one.

    Async functions run on the host's one event loop (``loop``, set once the server runs), as the Python
    worker runs them: the Durable SDK's client keeps one HTTP session per process, bound to one loop.
    """

    def __init__(self, client_binding: Callable[[str], str]) -> None:
        self._client_binding = client_binding
        self.loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, entry: FunctionEntry, trigger_value: Any) -> None:
        arguments = {entry.trigger_name: trigger_value}
        for binding in entry.inputs:
            if binding["type"] != DURABLE_CLIENT:
                raise RuntimeError(
                    f"{entry.name}: input binding {binding['type']!r} is not supported by the local host"
                )
            arguments[binding["name"]] = self._client_binding(entry.name)
        result = entry.handler(**arguments)
        if asyncio.iscoroutine(result):
            if self.loop is None:
                result.close()
                raise RuntimeError(f"{entry.name}: async functions run once the host's event loop is up")
            asyncio.run_coroutine_threadsafe(result, self.loop).result()
