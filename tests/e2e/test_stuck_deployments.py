"""No deployment gets stuck: the three ways an attacker found, through the local host over HTTP.

(a) a raiseEvent body that is a plain JSON string, posted straight to the Durable webhook; (b) terminating the
instance through the webhook; (c) a workload health report of 450 KB-1 MiB. Each deployment ends (RolledBack,
or Completed where the report was fine), with exactly one terminal event, and its service is free again.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from controlplane.cli.main import main
from funchost.azurite import Azurite
from tests.e2e.host_process import ROOT, HostProcess, product_settings
from tests.e2e.test_deployments_api import ENDINGS, example, settle

MANUAL_CANARY = {"type": "Canary", "steps": [{"weight": 50, "pause": {"untilApproved": True}}, {"weight": 100}]}
BLOATED_IMAGE = "example.azurecr.io/bloated:1.0.0"
# A workload whose health endpoint answers a Healthy report of about 600 KB: accepted by the probe (<= 1 MiB).
BLOATED_WORKLOAD = """
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
entries = {f"check-{i:03d}": {"status": "Healthy", "description": "d" * 1000, "data": {"blob": "x" * 4000}}
           for i in range(120)}
HEALTH = json.dumps({"status": "Healthy", "entries": entries}).encode()
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = HEALTH if self.path.startswith("/health") else b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def product(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    """A host whose reconciler runs every second, with an image that answers a huge health report."""
    local = tmp_path_factory.mktemp("stuck")
    workload = local / "bloated_workload.py"
    workload.write_text(BLOATED_WORKLOAD)
    sample = ROOT / "examples" / "workload" / "sample_service.py"
    catalog = {
        "images": {
            "example.azurecr.io/orders": {"command": ["{python}", str(sample)]},
            "example.azurecr.io/payments": {"command": ["{python}", str(sample)]},
            "example.azurecr.io/bloated": {"command": ["{python}", str(workload)]},
        }
    }
    (local / "catalog.json").write_text(json.dumps(catalog))
    settings = product_settings(
        local,
        CONTROLPLANE_RECONCILER_SCHEDULE="*/1 * * * * *",
        CONTROLPLANE_IMAGE_CATALOG=str(local / "catalog.json"),
    )
    host = HostProcess(azurite.connection_string, "function_app:app", local, settings)
    host.cli_env = {**os.environ, **settings, "CONTROLPLANE_STORAGE": azurite.connection_string}
    host.start()
    yield host
    host.stop()


def webhook(host: HostProcess, deployment_id: str, action: str = "") -> str:
    return f"{host.base_url}/runtime/webhooks/durabletask/instances/{deployment_id}{action}"


def instance(host: HostProcess, deployment_id: str) -> dict[str, Any]:
    # The Durable webhook is the host's, guarded by its keys (no app role opens it).
    code, status = host.request(
        "GET", webhook(host, deployment_id), key=host.keys().master_key(), token=None, absolute=True
    )
    assert code in (200, 202), status
    return status


def wait_for_instance(host: HostProcess, deployment_id: str, statuses: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (status := instance(host, deployment_id))["runtimeStatus"] not in statuses:
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    return status


def waiting_for_approval(host: HostProcess, environment: str) -> str:
    """A canary of orders 2.0.0 in ``environment`` (1.0.0 Completed there first) paused for an approval."""
    stable = settle(host, deploy(host, example("v1-rolling", environment))["deploymentId"])
    assert stable["state"] == "Completed", stable["transitions"]
    canary = example("v2-canary", environment)
    canary["spec"]["strategy"] = copy.deepcopy(MANUAL_CANARY)
    deployment_id = deploy(host, canary)["deploymentId"]
    deadline = time.monotonic() + 60
    while "approve" not in json.dumps(instance(host, deployment_id).get("customStatus")):
        assert time.monotonic() < deadline, instance(host, deployment_id)
        time.sleep(0.2)
    return deployment_id


def deploy(host: HostProcess, release: dict[str, Any]) -> dict[str, Any]:
    code, body = host.request("POST", "/api/deployments", release)
    assert code == 202, body
    return body


def terminal_events(host: HostProcess, done: dict[str, Any]) -> list[str]:
    events = host.request("GET", f"/api/events?traceId={done['traceId']}")[1]["events"]
    return [event["type"] for event in events if event["type"] in ENDINGS]


def test_signals_that_do_not_parse_never_end_the_wait_and_an_abort_with_who_and_why_rolls_back(
    product: HostProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment_id = waiting_for_approval(product, "stuck-a")
    master = product.keys().master_key()
    reader = {"name": "rita", "objectId": "oid-rita", "roles": ["Reader"]}  # parses, but may neither approve nor abort
    for event in ("approve", "abort"):
        for body in ("x", 42, None, {"by": "", "reason": "no one"}, {"actor": reader, "reason": "straight in"}):
            url = webhook(product, deployment_id, f"/raiseEvent/{event}")
            sent = body if body is not None else "null"
            code, answer = product.request("POST", url, sent, key=master, token=None, absolute=True)
            assert code == 202, answer
    code, refused = product.request("POST", f"/api/deployments/{deployment_id}/approve")
    assert code == 400 and {error["path"] for error in refused["errors"]} == {"reason"}
    code, refused = product.request("POST", f"/api/deployments/{deployment_id}/abort", {"reason": "ops\n"})
    assert code == 400 and refused["errors"][0]["path"] == "reason" and "control characters" in refused["detail"]
    code, refused = product.request("POST", f"/api/deployments/{deployment_id}/abort", {"by": "ops", "reason": "r"})
    assert code == 400 and refused["errors"][0]["path"] == "by"  # the actor is the caller, never a field
    assert instance(product, deployment_id)["runtimeStatus"] == "Running"
    assert product.request("GET", f"/api/deployments/{deployment_id}")[1]["state"] == "RollingOut"

    command = ["abort", deployment_id, "--reason", "bad build", "--url", product.base_url]
    assert main([*command, "--token", product.bearer_token("e2e", ["Operator"])]) == 0
    assert capsys.readouterr().out == f"abort sent to {deployment_id} by e2e: bad build\n"
    done = settle(product, deployment_id)
    assert done["state"] == "RolledBack" and done["transitions"][-1]["reason"] == "aborted by e2e: bad build"
    assert done["transitions"][-2]["actor"]["name"] == "e2e" and done["transitions"][-2]["actor"]["roles"] == [
        "Operator"
    ]
    assert terminal_events(product, done) == ["RuntimeDeploymentRolledBack"]
    ended = wait_for_instance(product, deployment_id, ("Completed", "Failed", "Terminated"))
    assert ended["runtimeStatus"] == "Completed", ended  # the orchestration ended through its own code
    deploy(product, example("v1-rolling", "stuck-a"))  # the service is free


def test_a_terminated_orchestration_is_rolled_back_by_the_reconciler_and_frees_its_service(
    product: HostProcess,
) -> None:
    deployment_id = waiting_for_approval(product, "stuck-b")
    master = product.keys().master_key()
    url = webhook(product, deployment_id, "/terminate?reason=" + urllib.parse.quote("pulled the plug"))
    assert product.request("POST", url, key=master, token=None, absolute=True)[0] == 202

    done = settle(product, deployment_id)
    assert done["state"] == "RolledBack", done["transitions"]
    assert done["transitions"][-1]["reason"] == "orchestration Terminated: pulled the plug"
    assert terminal_events(product, done) == ["RuntimeDeploymentRolledBack"]
    query = urllib.parse.urlencode({"reason": "too late"})
    code, finished = product.request("POST", f"/api/deployments/{deployment_id}/approve?{query}")
    assert code == 409 and finished["state"] == "RolledBack", finished
    deploy(product, example("v1-rolling", "stuck-b"))  # the service is free


def test_a_health_report_of_600_kb_is_stored_cut_and_the_deployment_ends(product: HostProcess) -> None:
    release = example("v1-rolling", "stuck-c")
    release["spec"]["services"][0]["image"] = BLOATED_IMAGE
    done = settle(product, deploy(product, release)["deploymentId"])
    assert done["state"] == "Completed", done["transitions"]
    assert terminal_events(product, done) == ["RuntimeDeploymentCompleted"]
    events = product.request("GET", f"/api/events?traceId={done['traceId']}")[1]["events"]
    bloated = release["spec"]["services"][0]["name"]  # the services roll out in parallel: find its probe
    checks = [event for event in events if event["type"] == "HealthCheckCompleted"]
    report = next(event for event in checks if event["data"]["service"] == bloated)["data"]["report"]
    assert report["status"] == "Healthy" and "report cut to fit" in report["detail"]
    deploy(product, example("v1-rolling", "stuck-c"))  # the service is free


def test_the_operator_command_finds_no_stuck_deployment_once_the_reconciler_ran(product: HostProcess) -> None:
    stuck = subprocess.run(
        [sys.executable, "-m", "controlplane", "stuck"],
        cwd=ROOT,
        env=product.cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (stuck.returncode, stuck.stdout.splitlines()[-1:]) == (0, ["0 stuck deployment(s)"]), stuck.stderr
