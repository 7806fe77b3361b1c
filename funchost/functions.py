"""The function index: what ``function_app.app`` declares, read once as the Functions host reads it.

Every part of the local host (HTTP gateway, durable engine, timers, local bus) looks functions up here
instead of walking the app itself: ``app.get_functions()`` may be called only once per app. Indexing refuses
(FunctionAppRefused) what the Python worker or the Functions host would refuse on Azure (``function_checks``).
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from funchost.function_checks import check_functions, check_module, indexed_functions

HTTP = "httpTrigger"
ORCHESTRATION = "orchestrationTrigger"
ACTIVITY = "activityTrigger"
ENTITY = "entityTrigger"
TIMER = "timerTrigger"
SERVICE_BUS = "serviceBusTrigger"
DURABLE_CLIENT = "durableClient"


@dataclass(frozen=True)
class FunctionEntry:
    """One function: its trigger binding (as in function.json), other input bindings, and the callable."""

    name: str
    trigger_type: str
    trigger: dict[str, Any]
    inputs: tuple[dict[str, Any], ...]
    handler: Callable[..., Any] = field(compare=False)

    @property
    def trigger_name(self) -> str:
        """The parameter the trigger value is passed as."""
        return self.trigger["name"]

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)

    def input_named(self, binding_type: str) -> dict[str, Any] | None:
        return next((binding for binding in self.inputs if binding["type"] == binding_type), None)


class FunctionIndex:
    """Functions by name and by trigger type."""

    def __init__(self, entries: list[FunctionEntry]) -> None:
        self._by_name = {entry.name: entry for entry in entries}
        # Function names match in any case on Azure (the host's and the Durable extension's lookups are
        # OrdinalIgnoreCase), e.g. an orchestration started as "CHAIN" runs "chain".
        self._by_folded_name = {entry.name.lower(): entry for entry in entries}

    @classmethod
    def of_app(cls, app: Any) -> FunctionIndex:
        """Index ``app``; FunctionAppRefused, with Azure's messages, if Azure would not load it."""
        functions = indexed_functions(app)
        check_functions(functions)
        entries = []
        for function in functions:
            bindings = json.loads(function.get_function_json())["bindings"]
            trigger = next(binding for binding in bindings if binding["type"].endswith("Trigger"))
            inputs = tuple(b for b in bindings if b is not trigger and b.get("direction", "IN").upper() == "IN")
            entries.append(
                FunctionEntry(
                    name=function.get_function_name(),
                    trigger_type=trigger["type"],
                    trigger=trigger,
                    inputs=inputs,
                    handler=function.get_user_function(),
                )
            )
        return cls(entries)

    @classmethod
    def load(cls, module: str = "function_app", attribute: str = "app") -> FunctionIndex:
        """Import ``module`` and index its app, as the Functions host does with function_app.py."""
        imported = importlib.import_module(module)
        check_module(imported, attribute)
        return cls.of_app(getattr(imported, attribute))

    def get(self, name: str, trigger_type: str | None = None) -> FunctionEntry:
        """The function called ``name`` in any case; KeyError naming what exists if absent or of another
        trigger type."""
        entry = self._by_name.get(name) or self._by_folded_name.get(name.lower())
        if entry is None or (trigger_type and entry.trigger_type != trigger_type):
            known = ", ".join(sorted(e.name for e in self.of_type(trigger_type))) if trigger_type else ""
            raise KeyError(f"no {trigger_type or 'function'} named {name!r}" + (f" (known: {known})" if known else ""))
        return entry

    def of_type(self, trigger_type: str | None) -> list[FunctionEntry]:
        return [entry for entry in self._by_name.values() if trigger_type in (None, entry.trigger_type)]

    def __iter__(self) -> Iterator[FunctionEntry]:
        return iter(self._by_name.values())
