"""Calling a non-HTTP function (timer, Service Bus) as the Functions host does, bindings included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from controlplane.local.functions import DURABLE_CLIENT, FunctionEntry


class Invoker:
    """Passes the trigger value, plus the durable client binding when the function declares one."""

    def __init__(self, client_binding: Callable[[str], str]) -> None:
        self._client_binding = client_binding

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
            asyncio.run(result)
