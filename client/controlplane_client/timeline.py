"""Follow a deployment to its end: poll its status and its trace's events, print each new event once.

The closing event (RuntimeDeploymentCompleted / RolledBack / Failed) is logged just after the last transition,
so after a terminal state the events are read until it shows up, for at most ``CLOSING_POLLS`` more polls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import quote

from controlplane_client.api import Api

TERMINAL_STATES = ("Completed", "RolledBack", "Failed")
CLOSING_EVENTS = ("RuntimeDeploymentCompleted", "RuntimeDeploymentRolledBack", "RuntimeDeploymentFailed")
CLOSING_POLLS = 10


class TimedOut(Exception):
    """The deployment did not end within the time the caller gave it (it goes on running)."""


def follow(
    api: Api,
    deployment_id: str,
    out: TextIO,
    *,
    interval: float = 2.0,
    timeout: float = 3600.0,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The deployment once it reached a terminal state, after printing its timeline to ``out`` as it grew."""
    deadline = clock() + timeout
    seen: set[str] = set()
    closing_polls = 0
    while True:
        deployment = api.get(f"/api/deployments/{quote(deployment_id, safe='')}")
        events = api.get("/api/events", {"traceId": deployment["traceId"]})["events"]
        for event in events:
            if event.get("id") not in seen:
                seen.add(event.get("id"))
                print(line(event), file=out, flush=True)
        if deployment["state"] in TERMINAL_STATES:
            closed = any(event.get("type") in CLOSING_EVENTS for event in events)
            if closed or closing_polls >= CLOSING_POLLS:
                return dict(deployment)
            closing_polls += 1
        elif clock() > deadline:
            raise TimedOut(f"deployment {deployment_id} is still {deployment['state']} after {timeout:g} s")
        api.sleep(interval)


def line(event: dict[str, Any]) -> str:
    """``<time>  <type>  <what it says>``: the state change and its reason, else the event's main fields."""
    return f"{event.get('time', '')}  {event.get('type', '')}  {summary(event)}".rstrip()


def summary(event: dict[str, Any]) -> str:
    """A few words on an event's data: a state change as ``from -> to (reason)``, the deployment events by their
    main fields, any other event's fields as JSON. (The product's ``controlplane.cli.timeline`` says the same for
    its own demo; this package cannot import the product, so the few shapes it shows are read here again.)"""
    data = event.get("data") or {}
    if not isinstance(data, dict):
        return ""
    kind = event.get("type")
    if "from" in data and "to" in data:
        reason = f"  ({data['reason']})" if data.get("reason") else ""
        subject = f"{data['service']}: " if data.get("service") else ""
        return f"{subject}{data['from']} -> {data['to']}{reason}"[:200]
    if kind == "RuntimeDeploymentRequested":
        return f"release {data.get('release')} to {data.get('environment')}: {', '.join(data.get('services') or [])}"
    if kind == "RuntimeEnvironmentProvisioned":
        return f"environment {data.get('environment')} (changed: {data.get('changed')})"
    if kind == "HealthCheckCompleted":
        return f"{data.get('revision')}: {(data.get('report') or {}).get('status')}"
    if kind == "RuntimeDeploymentCompleted":
        return ", ".join(f"{service}={revision}" for service, revision in (data.get("services") or {}).items())
    if kind == "RuntimeDeploymentRolledBack":
        return f"restored {data.get('restoredDeploymentId')}: {data.get('reason')}"[:200]
    if data.get("reason"):
        return str(data["reason"])[:200]
    shown = {name: value for name, value in data.items() if name not in ("deploymentId", "traceId")}
    return json.dumps(shown, separators=(",", ":"))[:160] if shown else ""
