"""What Azure refuses when it loads a function app, refused here at start-up with Azure's own words.

Three layers refuse an app on Azure, in this order, and the local host applies each:
- the Python SDK, while indexing: ``app.get_functions()`` raises (a duplicate function name, no trigger);
- the Python worker, while loading what it indexed (``worker_checks``): annotations, ``$return``, parameters
  that have no binding or bindings with no parameter. The first refusal fails the whole index;
- the Functions host, for each function the worker reported: its name and binding names
  (``WorkerFunctionMetadataProvider.ValidateMetadata``, ``Utility.ValidateBinding`` in Azure/azure-functions-host
  src/WebJobs.Script) and its HTTP route (``ScriptHost.ValidateFunction``). Azure logs such a function as
  "The 'X' function is in error: ..." and runs the others; the local host refuses to start instead, so the
  error cannot go unnoticed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from funchost.worker_checks import RETURN, WorkerRefusal, check_function

# Utility.FunctionNameValidationRegex: IgnoreCase, and never "host".
_FUNCTION_NAME = re.compile(r"[a-z][a-z0-9_\-]{0,127}", re.IGNORECASE | re.ASCII)
# Utility.BindingNameValidationRegex: case-sensitive letters and digits only (no "_"), or "$return".
_BINDING_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9]{0,127}|\$return")
# ScriptHost.ValidateHttpFunction: the host's own routes live under these prefixes.
_RESERVED_ROUTE_PREFIXES = ("admin", "runtime")


@dataclass(frozen=True)
class FunctionError:
    """One refusal: the function it concerns ("" when the SDK names it only in the message) and Azure's text."""

    function: str
    message: str


class FunctionAppRefused(Exception):
    """The app would not load on Azure; ``errors`` holds each refusal, ``str()`` all of them, one a line."""

    def __init__(self, errors: Iterable[FunctionError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(error.message for error in self.errors))

    def for_app(self, app: str) -> str:
        """What the CLI prints when ``app`` (``module:attribute``) is refused."""
        return f"{app}: Azure would not load this function app:\n{self}"


def indexed_functions(app: Any) -> list[Any]:
    """``app.get_functions()``, its refusals raised as FunctionAppRefused (the SDK words them)."""
    try:
        return app.get_functions()
    except ValueError as error:
        raise FunctionAppRefused([FunctionError("", f"{type(error).__name__}: {error}")]) from error


def check_module(module: Any, attribute: str) -> None:
    """The worker indexes the one function app a module defines at top level (``loader.index_function_app``)."""
    from azure.functions import FunctionRegister

    apps = [name for name, value in vars(module).items() if isinstance(value, FunctionRegister)]
    if len(apps) > 1:
        kind = type(getattr(module, attribute)).__name__
        message = f"ValueError: More than one {kind} or other top level function app instances are defined."
        raise FunctionAppRefused([FunctionError("", message)])


def check_functions(functions: list[Any]) -> None:
    """Raise FunctionAppRefused if the worker or the host would refuse any of ``functions`` (indexed ones)."""
    for function in functions:
        try:
            check_function(function)
        except WorkerRefusal as refusal:
            raise FunctionAppRefused([FunctionError(function.get_function_name(), str(refusal))]) from refusal
    errors: list[FunctionError] = []
    http_routes: list[tuple[str, dict[str, Any]]] = []
    # The host validates functions sorted by name, ignoring case (FunctionMetadataManager.LoadFunctionMetadata),
    # so of two conflicting routes the later name is the one in error.
    for function in sorted(functions, key=lambda f: f.get_function_name().upper()):
        name = function.get_function_name()
        bindings = json.loads(function.get_function_json())["bindings"]
        reason = _metadata_error(name, bindings) or _route_error(name, bindings, http_routes)
        if reason:
            errors.append(FunctionError(name, f"The '{name}' function is in error: {_sentence(reason)}"))
    if errors:
        raise FunctionAppRefused(errors)


def _metadata_error(name: str, bindings: list[dict[str, Any]]) -> str | None:
    """WorkerFunctionMetadataProvider.ValidateName and ValidateBindings."""
    if not _FUNCTION_NAME.fullmatch(name) or name.lower() == "host":
        return f"'{name}' is not a valid function name."
    seen: set[str] = set()
    for binding in bindings:
        binding_name = binding.get("name")
        if binding_name is None or not _BINDING_NAME.fullmatch(binding_name):
            return f"The binding name {binding_name} is invalid. Please assign a valid name to the binding."
        if binding_name == RETURN and str(binding.get("direction", "")).upper() != "OUT":
            return f"{RETURN} bindings must specify a direction of 'out'."
        if binding_name.lower() in seen:
            return f"Multiple bindings with name '{binding_name}' discovered. Binding names must be unique."
        seen.add(binding_name.lower())
    if not bindings:
        return "At least one binding must be declared."
    if not any(_is_trigger(binding) for binding in bindings):
        return "No trigger binding specified. A function must have a trigger input binding."
    return None


def _route_error(
    name: str, bindings: list[dict[str, Any]], http_routes: list[tuple[str, dict[str, Any]]]
) -> str | None:
    """ScriptHost.ValidateHttpFunction and HttpRoutesConflict; ``http_routes`` collects the accepted ones."""
    trigger = next((binding for binding in bindings if binding["type"] == "httpTrigger"), None)
    if trigger is None:
        return None
    route = (trigger.get("route") or name).strip("/")
    if route.lower().startswith(_RESERVED_ROUTE_PREFIXES):
        return "The specified route conflicts with one or more built in routes."
    for other_name, other in http_routes:
        if _routes_conflict(route, trigger, other):
            return f"The route specified conflicts with the route defined by function '{other_name}'."
    http_routes.append((name, {**trigger, "route": route}))
    return None


def _routes_conflict(route: str, trigger: dict[str, Any], other: dict[str, Any]) -> bool:
    """Same template (case-insensitive, outer slashes ignored) and a method in common; no methods means all."""
    if route.lower() != other["route"].lower():
        return False
    methods, other_methods = trigger.get("methods") or [], other.get("methods") or []
    return not methods or not other_methods or bool(set(methods) & set(other_methods))


def _is_trigger(binding: dict[str, Any]) -> bool:
    return str(binding.get("type", "")).lower().endswith("trigger")


def _sentence(message: str) -> str:
    """Utility.FlattenException ends each message with a period."""
    return message if message.endswith(".") else f"{message}."
