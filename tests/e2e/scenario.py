"""The demo scenario's releases, shortened for tests, and the waits the fault scenarios share
(``crash_trials``, ``fault_cases``)."""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from typing import Any

import yaml

from controlplane.cli.demo import RELEASES
from tests.e2e.host_process import HostProcess

TERMINAL_STATES = {"Completed", "RolledBack", "Failed"}
TERMINAL_EVENTS = {"RuntimeDeploymentCompleted", "RuntimeDeploymentRolledBack", "RuntimeDeploymentFailed"}


def shortened(name: str) -> dict[str, Any]:
    """The demo's release ``name`` (examples/releases) with 1 s health-gate intervals and 2 s canary pauses."""
    document = copy.deepcopy(yaml.safe_load((RELEASES / f"{name}.yaml").read_text()))
    document["spec"]["healthGate"]["intervalSeconds"] = 1
    for step in document["spec"]["strategy"].get("steps", []):
        if "pause" in step and "durationSeconds" in step["pause"]:
            step["pause"]["durationSeconds"] = 2
    return document


def wait_state(host: HostProcess, deployment_id: str, states: set[str], timeout: float = 180) -> str:
    """The deployment's state once it is one of ``states`` (or whatever it is at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        state: str = host.request("GET", f"/api/deployments/{deployment_id}")[1]["state"]
        if state in states or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def wait_terminal(host: HostProcess, deployment_id: str, timeout: float = 180) -> str:
    return wait_state(host, deployment_id, TERMINAL_STATES, timeout)


def events_when_ended(host: HostProcess, traceid: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The trace's events once its terminal event is logged (it follows the terminal state by a step)."""
    deadline = time.monotonic() + timeout
    while True:
        events: list[dict[str, Any]] = host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]
        if any(e["type"] in TERMINAL_EVENTS for e in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def raw_request(host: HostProcess, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], str]:
    """One request as the host's caller; the status, the headers and the body text as the client reads them."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{host.base_url}{path}", data=data, method=method)
    for name, value in host.auth_headers().items():
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()
