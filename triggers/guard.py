"""The one error guard of every HTTP trigger: what a route did not answer itself becomes a problem+json.

- Storage or the durable task service unreachable (the core's ``TransientError``, which the storage adapters
  raise for ``azure.core`` connection failures, throttling and 5xx; or a durable-client call that could not
  reach the Durable extension or got its 5xx answer) is 503 with ``Retry-After``: the request changed nothing
  that a retry would not find, and the client is told when to come back. The body names no storage detail.
- Anything else is 500 whose body carries only an opaque error id; the traceback, the request's trace id
  and that id go to the log, so an operator finds the cause from what the client quotes.

The durable Python SDK reports an answer it did not expect as a plain ``Exception`` (``start_new`` with the
answer's body; ``raise_event``, ``get_status`` and the others with "... status code <n>"), and the Durable
extension answers every failure it did not expect, a storage outage included, with 500 and the message
"Something went wrong while processing your request" (``HttpApiHandler.HandleRequestAsync``,
azure-functions-durable-extension). Those two shapes, and connection failures to the extension's endpoint,
are what is recognised here as the durable task service being unavailable.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import ParamSpec, overload

import aiohttp
import azure.functions as func
from opentelemetry import trace

from controlplane.errors import TransientError
from triggers.responses import problem

# Seconds a client is asked to wait before retrying while storage is unreachable.
RETRY_AFTER_SECONDS = 5
_EXTENSION_FAILURE = "Something went wrong while processing your request"
_SERVER_STATUS = re.compile(r"status code 5\d\d\b")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_GUARD_MARK = "__error_guarded__"
log = logging.getLogger(__name__)

P = ParamSpec("P")


@overload
def guarded(route: Callable[P, Awaitable[func.HttpResponse]]) -> Callable[P, Awaitable[func.HttpResponse]]: ...
@overload
def guarded(route: Callable[P, func.HttpResponse]) -> Callable[P, func.HttpResponse]: ...
def guarded(
    route: Callable[P, Awaitable[func.HttpResponse]] | Callable[P, func.HttpResponse],
) -> Callable[P, Awaitable[func.HttpResponse]] | Callable[P, func.HttpResponse]:
    """``route`` answering 503 + Retry-After or an opaque 500 instead of raising (see the module docstring).

    Put it right above the function, under the ``bp.route`` and binding decorators: the wrapper keeps the
    function's name, signature and annotations (the worker binds by them) and whether it is a coroutine."""
    if inspect.iscoroutinefunction(route):
        asynchronous = route

        @functools.wraps(asynchronous)
        async def run_async(*args: P.args, **kwargs: P.kwargs) -> func.HttpResponse:
            try:
                response: func.HttpResponse = await asynchronous(*args, **kwargs)
                return response
            except Exception as error:  # the guard's job: nothing escapes to the host as a bare 500
                return failure_response(error, request_of([*args, *kwargs.values()]))

        setattr(run_async, _GUARD_MARK, True)
        return run_async
    synchronous: Callable[P, func.HttpResponse] = route  # type: ignore[assignment]

    @functools.wraps(synchronous)
    def run(*args: P.args, **kwargs: P.kwargs) -> func.HttpResponse:
        try:
            return synchronous(*args, **kwargs)
        except Exception as error:  # the guard's job: nothing escapes to the host as a bare 500
            return failure_response(error, request_of([*args, *kwargs.values()]))

    setattr(run, _GUARD_MARK, True)
    return run


def is_guarded(function: Callable[..., object]) -> bool:
    """Whether ``function`` is wrapped by :func:`guarded`."""
    return bool(getattr(function, _GUARD_MARK, False))


def failure_response(error: Exception, request: func.HttpRequest | None) -> func.HttpResponse:
    """503 + Retry-After for an unavailable dependency, else an opaque 500; either is logged with the trace id."""
    traceid = _trace_id(request)
    if is_unavailable(error):
        log.warning(
            "storage or the durable task service is unavailable (trace %s); answered 503", traceid, exc_info=error
        )
        return problem(
            503,
            "Service unavailable",
            f"The control plane's storage is unreachable for the moment; nothing was changed. "
            f"Retry after {RETRY_AFTER_SECONDS} seconds.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    error_id = uuid.uuid4().hex
    log.error("unhandled error %s (trace %s)", error_id, traceid, exc_info=error)
    return problem(
        500,
        "Internal error",
        f"The request failed on the server. Quote error id {error_id} to the operator.",
        errorId=error_id,
    )


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means storage or the durable task service could not be reached (worth a retry)."""
    if isinstance(error, TransientError | aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return True
    if type(error) is Exception and error.args:  # the durable SDK's report of an answer it did not expect
        detail = error.args[0]
        if isinstance(detail, dict):
            return detail.get("Message") == _EXTENSION_FAILURE
        return isinstance(detail, str) and bool(_SERVER_STATUS.search(detail))
    return False


def request_of(arguments: list[object]) -> func.HttpRequest | None:
    return next((value for value in arguments if isinstance(value, func.HttpRequest)), None)


def _trace_id(request: func.HttpRequest | None) -> str:
    """The W3C trace id the request carries (``traceparent``), else the current span's, else "-"."""
    if request is not None:
        match = _TRACEPARENT.match((request.headers.get("traceparent") or "").strip().lower())
        if match:
            return match.group(1)
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else "-"
