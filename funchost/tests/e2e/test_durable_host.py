"""The local host over real HTTP: the SDK's DurableOrchestrationClient against the host's own RPC."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlparse

from funchost.tests.e2e.host_process import HostProcess


def test_start_returns_the_check_status_payload_and_its_urls_work(host: HostProcess) -> None:
    payload = host.start_orchestration("chain", 4)
    for url in ("statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"):
        assert urlparse(payload[url]).netloc == urlparse(host.base_url).netloc, url
    done = host.wait_for(payload["id"])
    assert done["runtimeStatus"] == "Completed" and done["output"] == 4
    code, status = host.request("GET", payload["statusQueryGetUri"], key=None, absolute=True)
    assert code == 200 and status["runtimeStatus"] == "Completed" and status["output"] == 4


def test_start_with_a_chosen_instance_id_and_refuse_a_second_while_running(host: HostProcess) -> None:
    instance_id = f"waiter-{uuid.uuid4().hex[:8]}"
    assert host.start_orchestration("waiter", None, instance_id)["id"] == instance_id
    # The function raises: the host's empty 500, with the reason in the host's log (as on Azure).
    assert host.request("POST", f"/api/start/waiter/{instance_id}") == (500, None)
    assert "function start failed" in host.log() and instance_id in host.log().split("function start failed")[-1]
    host.request("POST", f"/api/raise/{instance_id}/go", "now")
    # The SDK's raise_event posts json.dumps(data) as a JSON string, which the extension stores as it is:
    # the orchestrator gets '"now"' (Azure/azure-functions-durable-python issue #295), here as on Azure.
    assert host.wait_for(instance_id)["output"] == {"got": '"now"'}


def test_status_by_and_all_list_instances(host: HostProcess) -> None:
    instance_id = host.start_orchestration("waiter")["id"]
    deadline = time.monotonic() + 10
    while host.request("GET", f"/api/status/{instance_id}")[1]["runtimeStatus"] != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert instance_id in host.request("GET", "/api/statuses?status=Running")[1]
    assert instance_id not in host.request("GET", "/api/statuses?status=Completed")[1]
    assert instance_id in host.request("GET", "/api/statuses")[1]
    host.request("POST", f"/api/terminate/{instance_id}?reason=cleanup")
    terminated = host.wait_for(instance_id)
    assert terminated["runtimeStatus"] == "Terminated" and terminated["output"] == "cleanup"


def test_history_is_shown_on_request_and_purge_deletes_it(host: HostProcess) -> None:
    instance_id = host.start_orchestration("chain", 2)["id"]
    host.wait_for(instance_id)
    code, status = host.request("GET", f"/api/status/{instance_id}?history=1")
    assert code == 200
    kinds = [event["EventType"] for event in status["historyEvents"]]
    assert kinds == ["ExecutionStarted", "TaskCompleted", "TaskCompleted", "ExecutionCompleted"]
    assert [event["FunctionName"] for event in status["historyEvents"][1:3]] == ["add_one", "add_one"]
    assert host.request("DELETE", f"/api/purge/{instance_id}")[1] == {"deleted": 1}
    assert host.request("GET", f"/api/status/{instance_id}")[0] == 404


def test_requests_without_the_function_key_are_refused(host: HostProcess) -> None:
    assert host.request("POST", "/api/start/chain", 1, key=None)[0] == 401
    assert host.request("POST", "/api/start/chain", 1, key="wrong")[0] == 401
    assert host.request("GET", "/runtime/webhooks/durabletask/instances/x", key=None)[0] == 401
