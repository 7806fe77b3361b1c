"""Every activity runs in a span of its flow's trace (the envelope ``traceid`` the orchestrator passes)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from controlplane.telemetry import traced

Result = TypeVar("Result")


def traced_activity(function: Callable[[dict[str, Any]], Result]) -> Callable[[dict[str, Any]], Result]:
    """Wrap an activity (``request`` dict in) in a span named after it, with the request's ids as attributes."""

    @functools.wraps(function)
    def run(request: dict) -> Result:
        target = request.get("target") or {}
        step = request.get("to") or request.get("type") or (request.get("step") or {}).get("kind")
        with traced(
            f"activity {function.__name__}",
            request.get("traceId"),
            deploymentId=request.get("deploymentId"),
            service=target.get("service"),
            findingId=request.get("findingId"),
            step=step,
        ):
            return function(request)

    return run
