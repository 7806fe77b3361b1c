"""The Durable HTTP API over real sockets, as the Durable extension answers it (HttpApiHandler.cs in
Azure/azure-functions-durable-extension; learn.microsoft.com "HTTP API reference",
durable-functions-http-api), and the SDK's DurableOrchestrationClient against it (the test app's routes).

The raw requests use the URLs the host hands out (``statusQueryGetUri`` and its query string), so they
carry whatever key the host's key model puts there.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from funchost.azurite import Azurite
from funchost.tests.e2e.host_process import DURABLE_APP, TASK_HUB, HostProcess

WHOLE_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    """One host for this module, with a task hub of its own (listing and purging see only its instances)."""
    logs = tmp_path_factory.mktemp("http-api")
    hub = {TASK_HUB: f"Api{uuid.uuid4().hex[:10]}"}
    process = HostProcess(azurite.connection_string, DURABLE_APP, logs, hub).start()
    yield process
    process.stop()


def call(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """One request; the status, the response headers and the decoded body (None when empty)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, response_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, dict(error.headers), error.read()
    return status, response_headers, json.loads(raw) if raw else None


def webhook(payload: dict[str, str], path: str, query: str = "") -> str:
    """A webhook URL beside the instance's ``statusQueryGetUri``, with its query string (and key)."""
    base, _, rest = payload["statusQueryGetUri"].partition("/instances/")
    suffix = rest.split("?", 1)[1]
    return f"{base}/{path}?{query + '&' if query else ''}{suffix}"


def started(host: HostProcess, name: str, value: Any = None, instance_id: str | None = None) -> dict[str, str]:
    return host.start_orchestration(name, value, instance_id)


def test_a_running_instance_is_202_with_location_and_retry_after_and_a_completed_one_200(host: HostProcess) -> None:
    payload = started(host, "waiter")
    host.wait_for(payload["id"], statuses=("Running",))
    code, headers, body = call("GET", payload["statusQueryGetUri"])
    assert (code, body["runtimeStatus"]) == (202, "Running")
    assert headers["Location"] == payload["statusQueryGetUri"] and headers["Retry-After"] == "5"
    assert WHOLE_SECONDS.match(body["createdTime"]) and WHOLE_SECONDS.match(body["lastUpdatedTime"])

    call(
        "POST", payload["sendEventPostUri"].replace("{eventName}", "go"), b'"now"', {"Content-Type": "application/json"}
    )
    host.wait_for(payload["id"])
    code, headers, body = call("GET", payload["statusQueryGetUri"])
    assert (code, body["output"]) == (200, {"got": "now"})
    assert "Location" not in headers and "Retry-After" not in headers


def test_a_failed_instance_is_200_and_500_only_when_asked_and_a_terminated_one_stays_200(host: HostProcess) -> None:
    failed = started(host, "failing")
    assert host.wait_for(failed["id"])["runtimeStatus"] == "Failed"
    assert call("GET", failed["statusQueryGetUri"])[0] == 200
    status_500 = failed["statusQueryGetUri"] + "&returnInternalServerErrorOnFailure=true"
    code, _, body = call("GET", status_500)
    assert (code, body["runtimeStatus"]) == (500, "Failed")

    terminated = started(host, "waiter")
    host.request("POST", f"/api/terminate/{terminated['id']}?reason=enough")
    assert host.wait_for(terminated["id"])["runtimeStatus"] == "Terminated"
    assert call("GET", terminated["statusQueryGetUri"] + "&returnInternalServerErrorOnFailure=true")[0] == 200


def test_an_unknown_instance_is_404_with_no_body_and_the_sdk_reads_it_as_absent(host: HostProcess) -> None:
    payload = started(host, "chain", 1)
    unknown = payload["statusQueryGetUri"].replace(payload["id"], "no-such-instance")
    assert call("GET", unknown)[::2] == (404, None)
    assert host.request("GET", "/api/status/no-such-instance")[0] == 404


def test_a_start_answers_with_the_extensions_check_status_response(host: HostProcess) -> None:
    payload = started(host, "chain", 1)
    code, headers, body = call(
        "POST", webhook(payload, "orchestrators/chain"), b"3", {"Content-Type": "application/json"}
    )
    assert code == 202
    assert set(body) == {
        "id",
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    }
    assert headers["Location"] == body["statusQueryGetUri"] and headers["Retry-After"] == "10"
    assert host.wait_for(body["id"])["output"] == 3


def test_starting_an_id_that_is_still_running_is_a_409_with_the_durable_task_text(host: HostProcess) -> None:
    instance_id = f"busy-{uuid.uuid4().hex[:8]}"
    payload = started(host, "waiter", None, instance_id)
    code, _, body = call("POST", webhook(payload, f"orchestrators/waiter/{instance_id}"))
    assert code == 409
    assert re.fullmatch(
        r"An Orchestration instance with the status (Pending|Running) already exists\.", body["Message"]
    )
    host.request("POST", f"/api/terminate/{instance_id}?reason=done")
    host.wait_for(instance_id)
    again = call(
        "POST", webhook(payload, f"orchestrators/chain/{instance_id}"), b"2", {"Content-Type": "application/json"}
    )
    assert again[0] == 202 and host.wait_for(instance_id)["output"] == 2  # a finished id is started anew


def test_starting_an_unknown_orchestrator_is_a_400_with_the_extensions_text(host: HostProcess) -> None:
    payload = started(host, "chain", 1)
    code, _, body = call("POST", webhook(payload, "orchestrators/nope"))
    assert code == 400
    assert body["ExceptionMessage"].startswith(
        "The function 'nope' doesn't exist, is disabled, or is not an orchestrator function. Additional info: "
        "The following are the known orchestrator functions: 'approval', 'catches', 'chain', "
    )
    assert host.request("POST", "/api/start/nope")[0] == 500  # the SDK's start_new raises it


def test_show_history_has_the_documented_shape_with_results_only_on_request(host: HostProcess) -> None:
    payload = started(host, "chain", 2)
    host.wait_for(payload["id"])
    _, _, plain = call("GET", payload["statusQueryGetUri"] + "&showHistory=true")
    assert [e["EventType"] for e in plain["historyEvents"]] == [
        "ExecutionStarted",
        "TaskCompleted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    assert all("Result" not in e for e in plain["historyEvents"])
    _, _, full = call("GET", payload["statusQueryGetUri"] + "&showHistory=true&showHistoryOutput=true")
    started_event, first, second, finished = full["historyEvents"]
    assert started_event["FunctionName"] == "chain"
    assert (first["FunctionName"], first["Result"], second["Result"], finished["Result"]) == ("add_one", 1, 2, 2)
    assert finished["OrchestrationStatus"] == "Completed" and "ScheduledTime" in first


def test_listing_pages_with_top_and_the_continuation_token_header(host: HostProcess) -> None:
    prefix = f"page-{uuid.uuid4().hex[:6]}"
    payloads = [started(host, "chain", 1, f"{prefix}-{n}") for n in range(5)]
    for payload in payloads:
        host.wait_for(payload["id"])
    listing = webhook(payloads[0], "instances", f"instanceIdPrefix={prefix}&top=2&showInput=false")
    seen: list[str] = []
    headers: dict[str, str] = {}
    pages = 0
    while True:
        code, response_headers, body = call("GET", listing, headers=headers)
        assert code == 200 and len(body) <= 2 and all(item["input"] is None for item in body)
        seen += [item["instanceId"] for item in body]
        pages += 1
        token = response_headers.get("x-ms-continuation-token")
        if not token:
            break
        headers = {"x-ms-continuation-token": token}
    assert (seen, pages) == ([f"{prefix}-{n}" for n in range(5)], 3)


def test_purge_by_filter_answers_with_the_count_and_404_when_nothing_matches(host: HostProcess) -> None:
    payload = started(host, "chain", 1)
    host.wait_for(payload["id"])
    running = started(host, "waiter")
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    code, body = host.request("DELETE", f"/api/purge-by?from={since}&status=Completed,Running")
    assert code == 200 and body["deleted"] >= 1
    assert host.request("GET", f"/api/status/{payload['id']}")[0] == 404
    assert host.request("GET", f"/api/status/{running['id']}")[1]["runtimeStatus"] in ("Pending", "Running")
    assert host.request("DELETE", f"/api/purge-by?from={since}&status=Completed")[1] == {"deleted": 0}
    code, _, body = call("DELETE", webhook(payload, "instances"))
    assert (code, body) == (400, "Please provide value for 'createdTimeFrom' parameter.")
    host.request("POST", f"/api/terminate/{running['id']}?reason=done")


@pytest.mark.parametrize("value", ["garbage", "2024-13-01", "9999-12-31T23:59:59-05:00"])
def test_a_created_time_that_is_not_a_date_is_a_400_naming_it_not_a_wider_selection(
    host: HostProcess, value: str
) -> None:
    """The extension's DateTime.TryParse drops such a value (listing everything, purging up to now); this host
    refuses it with the extension's error shape, the parameter named, and lists or purges nothing."""
    payload = started(host, "chain", 1)
    host.wait_for(payload["id"])
    for method, path, query in (
        ("GET", "instances", f"createdTimeFrom={value}"),
        ("GET", "instances", f"createdTimeTo={value}"),
        ("DELETE", "instances", f"createdTimeFrom=2000-01-01T00:00:00Z&createdTimeTo={value}"),
    ):
        code, _, body = call(method, webhook(payload, path, query))
        assert code == 400, (method, query)
        parameter = query.rsplit("=", 1)[0].rsplit("&", 1)[-1]
        assert body["Message"].startswith(f"query parameter {parameter}: not a date and time")
    assert call("GET", payload["statusQueryGetUri"])[0] == 200  # nothing was purged


def test_purging_an_instance_that_is_still_running_is_a_412(host: HostProcess) -> None:
    payload = started(host, "waiter")
    code, _, body = call("DELETE", payload["purgeHistoryDeleteUri"])
    assert code == 412 and "Only orchestrations in a terminal state can be purged" in body
    host.request("POST", f"/api/terminate/{payload['id']}?reason=done")


def test_raise_event_takes_only_a_json_body(host: HostProcess) -> None:
    payload = started(host, "waiter")
    url = payload["sendEventPostUri"].replace("{eventName}", "go")
    assert call("POST", url, b"now", {"Content-Type": "text/plain"})[::2] == (
        400,
        {"Message": "Only application/json request content is supported"},
    )
    code, _, body = call("POST", url, b"{not json", {"Content-Type": "application/json"})
    assert (code, body["Message"]) == (400, "Invalid JSON content")
    assert call("POST", url, b'"a JSON string"', {"Content-Type": "application/json"})[0] == 202
    assert host.wait_for(payload["id"])["output"] == {"got": "a JSON string"}
    assert call("POST", url, b"1", {"Content-Type": "application/json"})[0] == 410
    unknown = url.replace(payload["id"], "no-such-instance")
    assert call("POST", unknown, b"1", {"Content-Type": "application/json"})[0] == 404


def test_suspend_and_resume_through_the_sdk_client(host: HostProcess) -> None:
    payload = started(host, "collector")
    instance_id = payload["id"]
    host.wait_for(instance_id, statuses=("Running",))
    assert host.request("POST", f"/api/suspend/{instance_id}?reason=hold")[0] == 202
    suspended = host.wait_for(instance_id, statuses=("Suspended",))
    assert call("GET", payload["statusQueryGetUri"])[0] == 202 and suspended["runtimeStatus"] == "Suspended"
    host.request("POST", f"/api/raise/{instance_id}/item", "a")
    assert host.request("POST", f"/api/resume/{instance_id}?reason=go")[0] == 202
    for item in ("b", "c"):
        host.request("POST", f"/api/raise/{instance_id}/item", item)
    assert host.wait_for(instance_id)["output"] == ['"a"', '"b"', '"c"']  # the SDK's data, as on Azure
    _, _, body = call("GET", payload["statusQueryGetUri"] + "&showHistory=true")
    kinds = [e["EventType"] for e in body["historyEvents"]]
    assert kinds.index("ExecutionSuspended") < kinds.index("ExecutionResumed") < kinds.index("EventRaised")


def test_rewind_through_the_sdk_client_runs_the_failed_activity_again(host: HostProcess) -> None:
    payload = started(host, "flaky_once", {"key": uuid.uuid4().hex, "failures": 1})
    assert host.wait_for(payload["id"])["runtimeStatus"] == "Failed"
    assert host.request("POST", f"/api/rewind/{payload['id']}?reason=retry")[0] == 202
    assert host.wait_for(payload["id"])["output"] == [1, "ok after 2"]

    rewind = payload["statusQueryGetUri"].replace("?", "/rewind?", 1)
    code, _, body = call("POST", rewind)
    assert (code, body) == (
        412,
        'This orchestration has status Completed, but only orchestrations in the "Failed" state can be rewound.',
    )
    assert call("POST", rewind.replace(payload["id"], "no-such-instance"))[0] == 404


def test_restart_through_the_sdk_client_starts_the_same_input_again(host: HostProcess) -> None:
    payload = started(host, "chain", 2)
    host.wait_for(payload["id"])
    code, body = host.request("POST", f"/api/restart/{payload['id']}?new=true")
    assert code == 200 and body["id"] != payload["id"]
    assert host.wait_for(body["id"])["output"] == 2
    unknown = payload["restartPostUri"].replace(payload["id"], "no-such-instance")
    code, _, body = call("POST", unknown)
    assert (code, body["Message"]) == (400, "InstanceId does not match a valid orchestration instance.")


def test_a_method_the_api_does_not_serve_is_404(host: HostProcess) -> None:
    payload = started(host, "chain", 1)
    assert call("PUT", payload["statusQueryGetUri"], b"{}")[0] == 404
    assert call("GET", payload["terminatePostUri"].replace("{text}", "x"))[0] == 404
    assert call("POST", payload["statusQueryGetUri"].replace("?", "/pause?", 1))[0] == 404


def test_a_suspended_instance_stays_suspended_across_a_crash_and_gets_what_was_held(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> None:
    hub = {TASK_HUB: f"Crash{uuid.uuid4().hex[:10]}"}
    host = HostProcess(azurite.connection_string, DURABLE_APP, tmp_path_factory.mktemp("crash"), hub)
    host.start()
    try:
        instance_id = started(host, "waiter")["id"]
        host.wait_for(instance_id, statuses=("Running",))
        host.request("POST", f"/api/suspend/{instance_id}")
        host.wait_for(instance_id, statuses=("Suspended",))
        host.request("POST", f"/api/raise/{instance_id}/go", "held")
        host.kill()
        host.start()
        assert host.request("GET", f"/api/status/{instance_id}")[1]["runtimeStatus"] == "Suspended"
        host.request("POST", f"/api/resume/{instance_id}")
        assert host.wait_for(instance_id)["output"] == {"got": '"held"'}
    finally:
        host.stop()


def test_webhook_paths_and_query_names_match_in_any_case_and_route_values_keep_theirs(host: HostProcess) -> None:
    """ASP.NET Core routing and the extension's TemplateMatcher ignore case in literal segments; the host's
    own tests call /runtime/webhooks/durableTask/. Orchestrator names match in any case (FunctionName)."""
    payload = started(host, "chain", 1)
    shouting = payload["statusQueryGetUri"].replace("/runtime/webhooks/durabletask/", "/Runtime/WebHooks/DurableTask/")
    instance_id = f"Mixed-{uuid.uuid4().hex[:6]}"
    start = shouting.replace(f"/instances/{payload['id']}", f"/ORCHESTRATORS/CHAIN/{instance_id}")
    assert call("POST", start, b"2", {"Content-Type": "application/json"})[0] == 202
    assert host.wait_for(instance_id)["output"] == 2
    status = shouting.replace(payload["id"], instance_id).replace("/instances/", "/Instances/")
    code, _, body = call("GET", status + "&SHOWHISTORY=true")
    assert (code, body["name"], body["instanceId"]) == (200, "CHAIN", instance_id)  # the name as sent
    assert body["historyEvents"][0]["EventType"] == "ExecutionStarted"
    assert call("GET", status.replace(instance_id, instance_id.lower()))[0] == 404  # ids keep their case

    waiter = started(host, "waiter")
    raise_go = payload["sendEventPostUri"].replace(payload["id"], waiter["id"]).replace("{eventName}", "go")
    raised = call(
        "POST", raise_go.replace("/raiseEvent/", "/RAISEEVENT/"), b'"x"', {"Content-Type": "application/json"}
    )
    assert raised[0] == 202 and host.wait_for(waiter["id"])["output"] == {"got": "x"}
    rpc_base = host.request("GET", "/api/rpc-base-url")[1]  # the client binding's rpcBaseUrl, too
    shouting_rpc = rpc_base.replace("/durabletask/", "/DurableTask/") + f"INSTANCES/{instance_id}"
    assert call("GET", shouting_rpc)[2]["runtimeStatus"] == "Completed"
    assert call("GET", f"{rpc_base}instances/{instance_id}/nothing/here")[::2] == (404, None)


def test_create_and_wait_answers_with_the_output_when_the_instance_finishes_within_the_timeout(
    host: HostProcess,
) -> None:
    """createAndWaitOnNewInstancePostUri: HandleStartOrchestratorRequestAsync and
    WaitForCompletionOrCreateCheckStatusResponseAsync in HttpApiHandler.cs."""
    payload = started(host, "chain", 1)
    code, headers, body = call("POST", webhook(payload, "orchestrators/chain", "timeout=60&pollingInterval=0.1"), b"3")
    assert (code, body) == (200, 3)
    assert headers["Content-Type"].startswith("application/json") and "Location" not in headers
    host.wait_for(payload["id"])
    restart = payload["restartPostUri"] + "&timeout=60&pollingInterval=0.1"  # HandleRestartInstanceRequestAsync
    assert call("POST", restart)[::2] == (200, 1)

    failing = webhook(payload, "orchestrators/failing", "timeout=60&pollingInterval=0.1&showInput=false")
    code, headers, body = call("POST", failing + "&returnInternalServerErrorOnFailure=true", b'"some input"')
    assert (code, body["runtimeStatus"], body["input"]) == (200, "Failed", None)  # the status response, not a 500

    code, headers, body = call("POST", webhook(payload, "orchestrators/waiter", "timeout=0.2&pollingInterval=0.1"))
    assert code == 202 and headers["Retry-After"] == "10" and headers["Location"] == body["statusQueryGetUri"]
    assert call("GET", body["statusQueryGetUri"])[2]["runtimeStatus"] in ("Pending", "Running")
    host.request("POST", f"/api/terminate/{body['id']}?reason=done")

    code, _, body = call("POST", webhook(payload, "orchestrators/chain", "timeout=60"), b"1")
    assert code == 202 and "statusQueryGetUri" in body  # the Azure Storage provider needs pollingInterval too
    code, _, body = call("POST", webhook(payload, "orchestrators/chain", "timeout=1&pollingInterval=2"), b"1")
    assert (code, body["ExceptionMessage"]) == (400, "Total timeout 1 should be bigger than retry timeout 2")


@pytest.mark.parametrize(
    ("instance_id", "message"),
    [
        ("%40entity", "instanceId (Parameter 'Orchestration instance ids must not start with @.')"),
        (
            "a%5Cb",
            "instanceId (Parameter 'Orchestration instance ids must not contain /, \\, #, ?, or control characters.')",
        ),
        ("x" * 257, "Instance ID lengths must not exceed 256 characters."),
    ],
)
def test_an_instance_id_the_extension_refuses_is_a_400_and_fails_the_sdks_start_new(
    host: HostProcess, instance_id: str, message: str
) -> None:
    """DurableClient.StartNewAsync's checks (DurableClient.cs), as HandleRequestAsync answers them."""
    payload = started(host, "chain", 1)
    code, _, body = call("POST", webhook(payload, f"orchestrators/chain/{instance_id}"), b"1")
    assert (code, body["Message"], body["ExceptionMessage"]) == (
        400,
        "One or more of the arguments submitted is incorrect",
        message,
    )
    assert host.request("POST", f"/api/start/chain/{instance_id}", 1)[0] == 500
    assert f"Exception: {message}" in host.log()  # the SDK's start_new raises the ExceptionMessage
    assert call("GET", payload["statusQueryGetUri"].replace(payload["id"], instance_id))[0] == 404


def test_the_longest_instance_id_starts_and_an_encoded_slash_or_control_character_is_refused(
    host: HostProcess,
) -> None:
    instance_id = "x" * 252 + uuid.uuid4().hex[:4]
    payload = started(host, "chain", 1, instance_id)
    assert payload["id"] == instance_id and host.wait_for(instance_id)["output"] == 1
    for refused in ("a%2Fb", "a%0Ab", "a%C2%85b"):  # an encoded "/" stays in its segment; U+0085 is Cc
        code, _, body = call("POST", webhook(payload, f"orchestrators/chain/{refused}"), b"1")
        assert (code, body["ExceptionMessage"]) == (
            400,
            "instanceId (Parameter 'Orchestration instance ids must not contain /, \\, #, ?, or control characters.')",
        )
