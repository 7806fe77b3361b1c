"""Every activity runs in a span of its flow's trace (the envelope ``traceid`` the orchestrator passes)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from controlplane.telemetry import traced

Result = TypeVar("Result")


def traced_activity(function: Callable[[dict[str, Any]], Result]) -> Callable[[dict[str, Any]], Result]:
    """Wrap an activity (``request`` dict in) in a span named after it, with the request's ids as attributes."""

    @functools.wraps(function)
    def run(request: dict) -> Result:
        with _span(function.__name__, request):
            return function(request)

    return run


def traced_async_activity(
    function: Callable[[dict[str, Any]], Awaitable[Result]],
) -> Callable[[dict[str, Any]], Awaitable[Result]]:
    """``traced_activity`` for an async activity (one that waits on the worker's event loop, not on a thread)."""

    @functools.wraps(function)
    async def run(request: dict) -> Result:
        with _span(function.__name__, request):
            return await function(request)

    return run


def _span(name: str, request: dict[str, Any]) -> AbstractContextManager[Any]:
    target = request.get("target") or {}
    step = request.get("to") or request.get("type") or (request.get("step") or {}).get("kind")
    return traced(
        f"activity {name}",
        request.get("traceId"),
        deploymentId=request.get("deploymentId"),
        service=target.get("service"),
        findingId=request.get("findingId"),
        step=step,
    )
