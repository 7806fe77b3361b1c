"""The re-implemented worker checks decide as the worker library does, annotation by annotation.

The local host runs the real ``Registry.add_indexed_function`` when azure-functions-runtime is installed and
its own ``_check_as_worker`` otherwise; here both judge the same functions: every annotation below on every
kind of parameter or return the product's apps use.
"""

from __future__ import annotations

import typing
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest

from funchost import worker_checks
from funchost.worker_checks import WorkerRefusal, check_function

ANNOTATIONS = [
    "dict", "dict[str, Any]", "typing.Dict[str, Any]", "list[dict]", "typing.List[dict]", "typing.Optional[dict]",
    "dict | None", "Any", "str", "bytes", "int", "object", "None", "typing.Mapping[str, Any]", "tuple[int, int]",
    "typing.Tuple[int, int]", "typing.Union[dict, list]", "typing.Literal['a']", "typing.Callable[[], None]",
    "func.HttpRequest", "func.HttpResponse", "func.TimerRequest", "func.ServiceBusMessage", "func.Out[str]",
    "func.Context", "df.DurableOrchestrationContext", "df.DurableOrchestrationClient",
]  # fmt: skip

# How each kind of binding is declared, with {A} standing for the annotation under test.
KINDS = {
    "activity input": ('@app.activity_trigger(input_name="request")', "request: {A}", "dict"),
    "activity return": ('@app.activity_trigger(input_name="request")', "request: dict", "{A}"),
    "orchestration context": ('@app.orchestration_trigger(context_name="context")', "context: {A}", "dict"),
    "http request": ('@app.route(route="r")', "req: {A}", "func.HttpResponse"),
    "http return": ('@app.route(route="r")', "req: func.HttpRequest", "{A}"),
    "durable client": (
        '@app.route(route="r")\n@app.durable_client_input(client_name="client")',
        "req: func.HttpRequest, client: {A}",
        "func.HttpResponse",
    ),
    "timer": ('@app.timer_trigger(schedule="0 * * * * *", arg_name="timer")', "timer: {A}", "None"),
    "service bus message": (
        '@app.service_bus_topic_trigger(arg_name="message", topic_name="t", subscription_name="s", connection="C")',
        "message: {A}",
        "None",
    ),
}


def _function(kind: str, annotation: str) -> Any:
    decorators, params, returns = KINDS[kind]
    source = f"{decorators}\ndef probe({params.format(A=annotation)}) -> {returns.format(A=annotation)}:\n    pass\n"
    namespace = {"app": df.DFApp(http_auth_level=func.AuthLevel.FUNCTION), "func": func, "df": df}
    exec(source, {"typing": typing, "Any": Any, **namespace}, namespace)
    (function,) = namespace["app"].get_functions()
    return function


def _verdict(function: Any) -> str:
    try:
        check_function(function)
    except WorkerRefusal as refusal:
        return str(refusal)
    return "loads"


@pytest.mark.parametrize("kind", KINDS)
def test_the_re_implementation_refuses_exactly_what_the_worker_library_refuses(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert worker_checks.real_worker_installed(), "azure-functions-runtime is missing from .venv: run `make setup`"
    library = {annotation: _verdict(_function(kind, annotation)) for annotation in ANNOTATIONS}
    monkeypatch.setattr(worker_checks, "_real_worker", lambda: None)
    ours = {annotation: _verdict(_function(kind, annotation)) for annotation in ANNOTATIONS}
    assert ours == library
    assert "loads" in library.values()
