"""Storage away and back in the middle of a deployment: clients get 503 + Retry-After (never a 500, never
storage text), the host's engine, bus and timers live through it, and the deployment ends once, after."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from funchost.azurite import Azurite
from tests.e2e.host_process import ROOT, HostProcess, product_settings
from tests.e2e.test_deployment_crash import TERMINAL_EVENTS, release, wait_for_state

pytestmark = pytest.mark.slow  # waits in real time for the deployment and the outage


def raw_request(host: HostProcess, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], str]:
    """One keyed request; the status, the headers and the body text as the client reads them."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{host.base_url}{path}", data=data, method=method)
    request.add_header("x-functions-key", host.key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_a_deployment_resumes_after_storage_comes_back_and_clients_get_503_meanwhile(tmp_path: Path) -> None:
    storage = Azurite(ROOT, location=tmp_path / "azurite").start()  # this test's own: stopping it hurts no other
    host = HostProcess(storage.connection_string, "function_app:app", tmp_path, product_settings(tmp_path / "local"))
    try:
        host.start()
        accepted = host.request("POST", "/api/deployments", release("outage"))[1]
        deployment_id, traceid = accepted["deploymentId"], accepted["traceId"]
        wait_for_state(host, deployment_id, {"HealthGating"})

        storage.stop()
        during = [
            raw_request(host, "GET", f"/api/deployments/{deployment_id}"),
            raw_request(host, "GET", "/api/deployments"),
            raw_request(host, "POST", "/api/deployments", release("outage2")),
            raw_request(host, "POST", f"/api/deployments/{deployment_id}/abort"),
            raw_request(host, "GET", f"/api/events?traceId={traceid}"),
        ]
        for status, headers, text in during:
            assert status == 503, text
            assert headers["Retry-After"].isdigit()
            assert headers["Content-Type"].startswith("application/problem+json")
            assert json.loads(text)["status"] == 503
            for leak in (str(storage.port), str(storage.blob_port), "devstoreaccount1", "Traceback", str(tmp_path)):
                assert leak not in text
        assert host._process is not None and host._process.poll() is None, "the host lives through the outage"

        storage.start()
        done = wait_for_state(host, deployment_id, {"Completed", "RolledBack", "Failed"}, timeout=180)
        assert done["state"] == "Completed", done["transitions"]
        deadline = time.monotonic() + 60
        while True:
            events = host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]
            if any(e["type"] in TERMINAL_EVENTS for e in events) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sum(e["type"] in TERMINAL_EVENTS for e in events) == 1, "exactly one terminal event"
        assert all(count == 1 for count in Counter(e["id"] for e in events).values()), "no duplicate event ids"
        assert "Traceback" not in json.dumps(done)
    finally:
        host.stop()
        storage.stop()
