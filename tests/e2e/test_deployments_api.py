"""Deployments through the local host over HTTP, on real local processes of the sample workload."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.adapters.local.router import routed_url
from funchost.azurite import Azurite
from tests.e2e.host_process import OPERATOR, ROOT, HostProcess, product_settings

FAST_GATE = {"intervalSeconds": 1, "successThreshold": 2, "failureThreshold": 2, "progressDeadlineSeconds": 60}


@pytest.fixture
def product(azurite: Azurite, tmp_path: Path) -> Iterator[HostProcess]:
    host = HostProcess(azurite.connection_string, "function_app:app", tmp_path, product_settings(tmp_path))
    host.local_dir = tmp_path
    host.start()
    yield host
    host.stop()


def example(name: str, environment: str) -> dict[str, Any]:
    release = yaml.safe_load((ROOT / "examples" / "releases" / f"{name}.yaml").read_text())
    release = copy.deepcopy(release)
    release["spec"]["environment"]["name"] = environment
    release["spec"]["healthGate"].update(FAST_GATE)
    if release["spec"]["strategy"]["type"] == "Canary":
        for step in release["spec"]["strategy"]["steps"]:
            step.pop("pause", None)
    return release


def deploy(host: HostProcess, release: dict[str, Any]) -> dict[str, Any]:
    code, body = host.request("POST", "/api/deployments", release)
    assert code == 202, body
    return body


ENDINGS = {"RuntimeDeploymentCompleted", "RuntimeDeploymentRolledBack", "RuntimeDeploymentFailed"}


def settle(host: HostProcess, deployment_id: str, timeout: float = 60) -> dict[str, Any]:
    """The deployment once it ended and its closing event is logged (it follows the last transition)."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = host.request("GET", f"/api/deployments/{deployment_id}")
        assert code == 200, body
        if body["state"] in ("Completed", "RolledBack", "Failed"):
            events = host.request("GET", f"/api/events?traceId={body['traceId']}")[1]["events"]
            if any(event["type"] in ENDINGS for event in events):
                return body
        assert time.monotonic() < deadline, f"{deployment_id} still {body['state']}"
        time.sleep(0.3)


def test_a_release_completes_and_a_bad_one_rolls_back_with_traffic_on_the_stable_revision(
    product: HostProcess,
) -> None:
    accepted = deploy(product, example("v1-rolling", "e2e1"))
    assert accepted["state"] == "Requested" and len(accepted["traceId"]) == 32
    assert accepted["statusQueryGetUri"].startswith(product.base_url)
    done = settle(product, accepted["deploymentId"])
    assert done["state"] == "Completed", done["transitions"]
    assert [t["to"] for t in done["transitions"]][-4:] == ["RollingOut", "HealthGating", "Promoting", "Completed"]
    stable = done["services"]["orders"]["revision"]

    failing = deploy(product, example("v3-unhealthy", "e2e1"))
    rolled_back = settle(product, failing["deploymentId"])
    assert rolled_back["state"] == "RolledBack"
    assert "health gate failed for orders" in rolled_back["transitions"][-1]["reason"]

    _, events = product.request("GET", f"/api/events?traceId={failing['traceId']}")
    types = [event["type"] for event in events["events"]]
    assert types[0] == "RuntimeDeploymentRequested" and types[-1] == "RuntimeDeploymentRolledBack"
    assert "HealthCheckCompleted" in types
    assert {event["traceid"] for event in events["events"]} == {failing["traceId"]}

    _, listed = product.request("GET", "/api/deployments?environment=e2e1&service=orders")
    assert [d["id"] for d in listed["deployments"]] == [failing["deploymentId"], accepted["deploymentId"]]
    router = routed_url(product.local_dir / "router.json", "e2e1", "orders")
    served = {_revision_of(router) for _ in range(6)}
    assert served == {stable}, "all traffic is back on the stable revision"


def test_bad_manifests_are_refused_naming_each_field_and_nothing_starts(product: HostProcess) -> None:
    release = example("v1-rolling", "e2e2")
    release["spec"]["services"][0]["image"] = "example.azurecr.io/orders"
    release["spec"]["environment"]["tier"] = "production"
    code, problem = product.request("POST", "/api/deployments", release)
    assert code == 422
    paths = {error["path"] for error in problem["errors"]}
    assert {"spec.services[0].image", "spec.environment.tier"} <= paths
    code, problem = product.request("POST", "/api/deployments", "{not json")
    assert code == 400
    assert product.request("GET", "/api/deployments?environment=e2e2")[1] == {"deployments": [], "continuation": None}


def test_a_second_deploy_of_a_running_service_is_refused_and_a_repeated_key_returns_the_same(
    product: HostProcess,
) -> None:
    release = example("v1-rolling", "e2e3")
    first = _post_with_key(product, release, "pipeline-run-42")
    again = _post_with_key(product, release, "pipeline-run-42")
    assert again[0] == 200 and again[1]["deploymentId"] == first[1]["deploymentId"]
    code, conflict = product.request("POST", "/api/deployments", example("v2-canary", "e2e3"))
    assert code == 409 and conflict["runningDeploymentId"] == first[1]["deploymentId"]
    assert settle(product, first[1]["deploymentId"])["state"] == "Completed"


def test_a_pipeline_gets_only_the_status_url_and_the_management_webhooks_take_only_the_system_or_master_key(
    product: HostProcess,
) -> None:
    """What a pipeline is handed (202 body, Location) opens status and nothing else: the product's own
    GET /api/deployments/{id}, no key in it, so it opens with the token the pipeline POSTed with and with
    nothing less (no key opens it). No Durable management URL (its system key would open raiseEvent,
    terminate, purge) is returned."""
    keys = product.keys()
    code, accepted, headers = _post(product, example("v1-rolling", "e2e4"), {})
    deployment_id = accepted["deploymentId"]
    status_url = f"{product.base_url}/api/deployments/{deployment_id}"
    assert code == 202 and set(accepted) == {"deploymentId", "traceId", "state", "statusQueryGetUri"}
    assert accepted["statusQueryGetUri"] == headers["Location"] == status_url
    assert "code=" not in json.dumps(accepted) and "code=" not in headers["Location"]
    assert product.request("GET", status_url, token=None, key=None, absolute=True)[0] == 401
    for key in (keys.system_key(), keys.master_key(), product.key):  # no key opens a product route
        assert product.request("GET", status_url, token=None, key=key, absolute=True)[0] == 401
    code, status = product.request("GET", status_url, absolute=True)  # the pipeline's token
    assert code == 200 and status["id"] == deployment_id

    # The Durable webhooks stay as on Azure: HostController.ExtensionWebHookHandler (policy SystemKeyAuthLevel)
    # and the host's own ExtensionWebHook_Succeeds test: no matching key 401, a host key 403, the system or
    # master key 2xx.
    bare = f"{product.base_url}/runtime/webhooks/durabletask/instances/{deployment_id}"
    system_url = f"{bare}?code={keys.system_key()}"
    assert product.request("GET", system_url, key=None, token=None, absolute=True)[0] in (200, 202)
    assert product.request("GET", bare, key=keys.master_key(), token=None, absolute=True)[0] in (200, 202)
    assert product.request("GET", bare, key=product.key, token=None, absolute=True) == (403, None)  # a host key
    # A function key is only looked up for its own function, so on a webhook it matches nothing, as no key.
    function_key = keys.function_key("create_deployment")
    assert product.request("GET", bare, key=function_key, token=None, absolute=True) == (401, None)
    # A signed-in caller's token is no key: the webhooks stay the extension's (system key) alone.
    assert product.request("GET", bare, key=None, absolute=True) == (401, None)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare, timeout=30)
    assert (refused.value.code, refused.value.read()) == (401, b"")
    assert refused.value.headers["WWW-Authenticate"] == "Bearer"  # the host's JWT bearer scheme's challenge
    assert settle(product, deployment_id)["state"] == "Completed"


def test_routes_take_a_signed_in_caller_not_a_key_and_answer_edges_as_the_host(product: HostProcess) -> None:
    keys = product.keys()
    for key in (product.key, keys.master_key(), keys.function_key("list_deployments")):
        code, refused = product.request("GET", "/api/deployments", key=key, token=None)
        assert code == 401 and refused["title"] == "Sign-in required", refused
    assert product.request("GET", "/api/deployments")[0] == 200
    assert product.request("PUT", "/api/deployments") == (404, None)  # methods are route constraints on Azure
    assert product.request("GET", "/api/nothing-here") == (404, None)
    request = urllib.request.Request(f"{product.base_url}/API/Deployments", headers=product.auth_headers())
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"  # what the worker sends for mimetype JSON


def _post_with_key(host: HostProcess, release: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{host.base_url}/api/deployments", data=json.dumps(release).encode(), method="POST"
    )
    for name, value in host.auth_headers().items():
        request.add_header(name, value)
    request.add_header("Content-Type", "application/json")  # urllib's default, a form, is refused with 415
    request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _post(
    host: HostProcess, body: Any, headers: dict[str, str], path: str = "/api/deployments"
) -> tuple[int, Any, dict[str, str]]:
    """A POST as the host's caller; the status, the decoded body and the response headers."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{host.base_url}{path}", data=data, method="POST", headers=headers)
    for name, value in host.auth_headers().items():
        request.add_header(name, value)
    if data is not None and "Content-Type" not in headers:
        request.add_header("Content-Type", "application/json")  # urllib's default, a form, is refused with 415
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def _revision_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["X-Revision"]


def test_a_manual_rollback_deploys_the_previous_release_again(product: HostProcess) -> None:
    first = deploy(product, example("v1-rolling", "e2e4"))
    assert settle(product, first["deploymentId"])["state"] == "Completed"
    second = deploy(product, example("v2-canary", "e2e4"))
    assert settle(product, second["deploymentId"])["state"] == "Completed"
    path = f"/api/deployments/{second['deploymentId']}/rollback"
    assert _post(product, None, {}, path)[0] == 400  # without a reason
    code, rollback, headers = _post(product, {"reason": "orders 2.0.0 leaks memory"}, {}, path)
    assert code == 202 and rollback["restores"] == first["deploymentId"], rollback
    status_url = f"{product.base_url}/api/deployments/{rollback['deploymentId']}"  # least privilege, as a deploy's
    assert rollback["statusQueryGetUri"] == headers["Location"] == status_url and "code=" not in json.dumps(rollback)
    restored = settle(product, rollback["deploymentId"])
    assert restored["state"] == "Completed"
    assert restored["release"]["spec"]["services"][0]["image"].endswith("orders:1.0.0")
    assert restored["requestedBy"]["name"] == OPERATOR and restored["rollbackOf"] == second["deploymentId"]
    reason = restored["transitions"][0]["reason"]
    assert reason == f"rollback of {second['deploymentId']} by {OPERATOR}: orders 2.0.0 leaks memory"
    code, problem = product.request("POST", f"/api/deployments/{first['deploymentId']}/rollback", {"reason": "r"})
    assert code == 404 and "no Completed deployment" in problem["detail"]


def test_replay_and_explain_print_a_flow_from_its_stored_events(product: HostProcess, azurite: Azurite) -> None:
    accepted = deploy(product, example("v1-rolling", "e2e5"))
    settle(product, accepted["deploymentId"])
    env = {**os.environ, **product.settings}

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "controlplane", *arguments]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    replay = run("replay", accepted["traceId"])
    assert replay.returncode == 0, replay.stderr
    lines = replay.stdout.splitlines()
    assert "RuntimeDeploymentRequested" in lines[0]
    assert any("Promoting -> Completed" in line for line in lines)
    assert f"in trace {accepted['traceId']}" in lines[-1]
    missing = run("replay", "0af7651916cd43dd8448eb211c80319c")
    assert missing.returncode == 1 and "no stored events" in missing.stdout

    explanation = product.request("GET", f"/api/deployments/{accepted['deploymentId']}")[1]["explanation"]
    assert explanation["state"] == "Completed" and explanation["reason"].startswith("every gate passed")
    assert [service["name"] for service in explanation["services"]] == ["orders", "payments"]
    printed = run("explain", accepted["deploymentId"])
    assert printed.returncode == 0, printed.stderr
    head = f"deployment {accepted['deploymentId']} of {explanation['release']} to e2e5: Completed — every gate passed"
    assert printed.stdout.startswith(head) and "\norders" in printed.stdout
    explained = json.loads(run("explain", accepted["deploymentId"], "--json").stdout)
    assert (explained["reason"], explained["services"]) == (explanation["reason"], explanation["services"])
    unknown = run("explain", "no-such-deployment")
    assert unknown.returncode == 1 and "no deployment 'no-such-deployment'" in unknown.stderr


def test_the_deployments_endpoint_exists(azurite: Azurite, tmp_path: Path) -> None:
    fresh_tables = product_settings(tmp_path)
    product = HostProcess(azurite.connection_string, "function_app:app", tmp_path, fresh_tables).start()
    try:
        code, body = product.request("GET", "/api/deployments")
        assert code == 200 and body == {"deployments": [], "continuation": None}
        assert product.request("GET", "/api/deployments", token=None)[0] == 401
    finally:
        product.stop()


def _events(host: HostProcess, traceid: str) -> list[dict[str, Any]]:
    return host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]


def test_prod_needs_an_approver_other_than_the_requester_and_both_are_recorded(product: HostProcess) -> None:
    release = example("v1-rolling", "e2e-prod")
    release["spec"]["environment"]["tier"] = "prod"
    accepted = deploy(product, release)  # as OPERATOR, who holds every role, Approver too
    deployment_id, traceid = accepted["deploymentId"], accepted["traceId"]
    deadline = time.monotonic() + 60
    while not any(e["type"] == "RuntimeDeploymentApprovalRequested" for e in _events(product, traceid)):
        assert time.monotonic() < deadline, "the prod deployment never asked for approval"
        time.sleep(0.3)
    approve = f"/api/deployments/{deployment_id}/approve"

    code, refused = product.request("POST", approve, {"reason": "my own change"})
    assert code == 403 and refused["rule"] == "four-eyes" and refused["setting"] == "CONTROLPLANE_FOUR_EYES"
    reader = product.bearer_token("e2e-reader", ["Reader"])
    code, refused = product.request("POST", approve, {"reason": "looks fine"}, token=reader)
    assert code == 403 and refused["requiredRoles"] == ["Approver"]
    approver = product.bearer_token("e2e-approver", ["Approver"])
    code, signalled = product.request("POST", approve, {"reason": "CHG-42 reviewed"}, token=approver)
    assert code == 202 and signalled["actor"]["name"] == "e2e-approver", signalled

    done = settle(product, deployment_id)
    assert done["state"] == "Completed", done["transitions"]
    assert done["requestedBy"]["name"] == OPERATOR and done["fourEyes"] is True
    promoting = next(t for t in done["transitions"] if t["to"] == "Promoting")
    assert promoting["actor"]["name"] == "e2e-approver" and promoting["actor"]["roles"] == ["Approver"]
    assert promoting["reason"] == "approved by e2e-approver: CHG-42 reviewed"
    events = {e["type"]: e["data"] for e in _events(product, traceid)}
    assert events["RuntimeDeploymentRequested"]["actor"]["name"] == OPERATOR
    assert events["RuntimeDeploymentApprovalRequested"]["requestedBy"]["name"] == OPERATOR
    approved = events["RuntimeDeploymentApproved"]
    assert approved["actor"] == promoting["actor"] and approved["reason"] == "CHG-42 reviewed"
    assert approved["for"] == "promotion to prod"
    # The audit finds what the approver did, by name or object id (newest first): the approval and the move to
    # Promoting it caused; nothing the requester did.
    for who in ("e2e-approver", approved["actor"]["objectId"]):
        status, audit = product.request("GET", f"/api/events?actor={who}&environment={done['environment']}")
        assert status == 200, audit
        found = [(e["type"], e["data"].get("to")) for e in audit["events"]]
        assert found == [("RuntimeDeploymentStateChanged", "Promoting"), ("RuntimeDeploymentApproved", None)]
