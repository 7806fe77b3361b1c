"""Small function apps that Azure refuses to load, one refusal each, and who refuses each in which words
(funchost/tests/conformance/test_bad_apps.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BadApp:
    module: str
    refused_by: str  # "worker" (the Python SDK or worker: nothing loads) or "host" (the function is in error)
    message: str

    @property
    def path(self) -> str:
        return f"funchost/tests/apps/bad_apps/{self.module}.py"

    @property
    def import_name(self) -> str:
        return f"funchost.tests.apps.bad_apps.{self.module}"


CANNOT_LOAD = "FunctionLoadError: cannot load the"
BAD_APPS = [
    BadApp(
        "activity_generic_annotation",
        "worker",
        f"{CANNOT_LOAD} record_step function: binding request has invalid non-type annotation dict[str, typing.Any]",
    ),
    BadApp(
        "http_return_mismatch",
        "worker",
        f'{CANNOT_LOAD} status function: Python return annotation "dict" does not match binding type "http"',
    ),
    BadApp(
        "http_return_generic",
        "worker",
        f"{CANNOT_LOAD} status function: has invalid non-type return annotation dict[str, typing.Any]",
    ),
    BadApp(
        "input_binding_without_parameter",
        "worker",
        f"{CANNOT_LOAD} start function: Extra parameters in binding definition — the following parameters are "
        "declared as bindings but are not present in Python: {'client'}",
    ),
    BadApp(
        "parameter_without_binding",
        "worker",
        f"{CANNOT_LOAD} status function: the following parameters are declared in Python but not in the function "
        "definition (function.json or function decorators):  {'verbose'}",
    ),
    BadApp(
        "binding_name_hyphen",
        "worker",
        f"{CANNOT_LOAD} status function: the following parameters are declared in Python but not in the function "
        "definition (function.json or function decorators):  {'req'}",
    ),
    BadApp(
        "context_not_context",
        "worker",
        f'{CANNOT_LOAD} status function: the "context" parameter is expected to be of type '
        "azure.functions.Context, got \"<class 'dict'>\"",
    ),
    BadApp(
        "duplicate_function_name",
        "worker",
        "ValueError: Function status does not have a unique function name. Please change @app.function_name() "
        "or the function method name to be unique.",
    ),
    BadApp(
        "two_apps",
        "worker",
        "ValueError: More than one FunctionApp or other top level function app instances are defined.",
    ),
    BadApp(
        "function_name_dot",
        "host",
        "The 'deployments.status' function is in error: 'deployments.status' is not a valid function name.",
    ),
    BadApp(
        "binding_name_underscore",
        "host",
        "The 'status' function is in error: The binding name status_request is invalid. "
        "Please assign a valid name to the binding.",
    ),
    BadApp(
        "duplicate_route",
        "host",
        "The 'services_page' function is in error: The route specified conflicts with the route defined by "
        "function 'list_services'.",
    ),
    BadApp(
        "reserved_route",
        "host",
        "The 'users' function is in error: The specified route conflicts with one or more built in routes.",
    ),
]
