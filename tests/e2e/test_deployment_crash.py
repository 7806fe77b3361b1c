"""SIGKILL the host in the middle of a deployment: after a restart it ends correctly, once."""

from __future__ import annotations

import copy
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from funchost.azurite import Azurite
from tests.e2e.host_process import ROOT, HostProcess, product_settings

TERMINAL_EVENTS = {"RuntimeDeploymentCompleted", "RuntimeDeploymentRolledBack", "RuntimeDeploymentFailed"}


def release(environment: str) -> dict[str, Any]:
    document = copy.deepcopy(yaml.safe_load((ROOT / "examples" / "releases" / "v1-rolling.yaml").read_text()))
    document["spec"]["environment"]["name"] = environment
    document["spec"]["healthGate"].update(intervalSeconds=1, successThreshold=3, progressDeadlineSeconds=120)
    return document


def wait_for_state(host: HostProcess, deployment_id: str, states: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = host.request("GET", f"/api/deployments/{deployment_id}")[1]
        if body["state"] in states:
            return body
        assert time.monotonic() < deadline, f"{deployment_id} stayed {body['state']}"
        time.sleep(0.1)


@pytest.mark.parametrize("kill_in", ["RollingOut", "HealthGating"])
def test_a_killed_host_finishes_the_deployment_after_a_restart(azurite: Azurite, tmp_path: Path, kill_in: str) -> None:
    settings = product_settings(tmp_path)
    host = HostProcess(azurite.connection_string, "function_app:app", tmp_path, settings).start()
    try:
        accepted = host.request("POST", "/api/deployments", release(f"crash{kill_in.lower()}"))[1]
        deployment_id, traceid = accepted["deploymentId"], accepted["traceId"]
        wait_for_state(host, deployment_id, {kill_in})
        time.sleep(0.5)
        host.kill()
        host.start()
        done = wait_for_state(host, deployment_id, {"Completed", "RolledBack", "Failed"}, timeout=90)
        assert done["state"] == "Completed", done["transitions"]
        deadline = time.monotonic() + 10
        while True:
            events = host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]
            if any(e["type"] in TERMINAL_EVENTS for e in events) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        ids = Counter(event["id"] for event in events)
        assert all(count == 1 for count in ids.values()), "no duplicate event ids"
        assert [e["type"] for e in events].count("RuntimeDeploymentCompleted") == 1
        assert sum(e["type"] in TERMINAL_EVENTS for e in events) == 1, "exactly one terminal event"
        states = [t["to"] for t in done["transitions"]]
        assert len(states) == len(set(states)), f"each state entered once: {states}"
    finally:
        host.stop()
