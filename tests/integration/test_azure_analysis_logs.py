"""The Application Insights analysis provider with a real ``LogsQueryClient`` (azure-monitor-query 2.0.0) against
a TLS stub of the Log Analytics query API, answering in its own ``tables/columns/rows`` shape; the stub records
each request, so the tests check the KQL, the timespan and the token that were sent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from azure.monitor.query import LogsQueryClient

from controlplane.adapters.azure.monitor.analysis_logs import LogsAnalysis, LogsAnalysisSettings
from controlplane.domain.analysis import MetricQuery
from tests.contracts.analysis_provider import AnalysisProviderContract, Arranged, check_no_data
from tests.stubs.https_stub import Recorded, Reply, StaticToken, StubServer

WORKSPACE = "11111111-2222-3333-4444-555555555555"
LOGS_PATH = rf"/v1/workspaces/{WORKSPACE}/query"
REVISION = "orders--3f9a0c21b7d4"
SETTINGS = LogsAnalysisSettings(timeout_seconds=1.0)


def success_rate(**changes: Any) -> MetricQuery:
    query = MetricQuery(
        "errors", "applicationInsights", WORKSPACE, "dev", "orders", REVISION, 120, builtin="requestSuccessRate"
    )
    return replace(query, **changes)


def latency(percentile: float = 99.0) -> MetricQuery:
    return success_rate(metric="latency", builtin="requestLatency", percentile=percentile)


def custom(text: str = "AppRequests | where AppRoleName == '{{ service }}' | summarize avg(DurationMs)") -> MetricQuery:
    return success_rate(metric="custom", builtin=None, query=text)


def table(columns: list[tuple[str, str]], *rows: list[Any], error: dict[str, Any] | None = None) -> Reply:
    body: dict[str, Any] = {
        "tables": [
            {"name": "PrimaryResult", "columns": [{"name": n, "type": t} for n, t in columns], "rows": list(rows)}
        ]
    }
    return Reply(200, {**body, **({"error": error} if error else {})})


def counts(requests: int | None, failed: int | None) -> Reply:
    return table([("Requests", "long"), ("Failed", "long")], [requests, failed])


def failure(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


class Workspace:
    """Answers queries from a script (the last answer repeats); ``hold`` makes answers wait, as a hung service."""

    def __init__(self, stub: StubServer) -> None:
        self.answers: list[Reply] = []
        self.hold: threading.Event | None = None
        stub.route("POST", LOGS_PATH, self._answer)

    def _answer(self, _request: Recorded, _match: Any) -> Reply:
        if self.hold is not None:
            self.hold.wait(10)
        if not self.answers:
            return failure(404, "NoScript", "nothing scripted")
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    with StubServer() as stub:
        yield stub


@pytest.fixture
def stub(server: StubServer) -> StubServer:
    server.requests.clear()
    return server


@pytest.fixture
def workspace(stub: StubServer) -> Workspace:
    return Workspace(stub)  # added last, so its route wins over earlier tests'


def provider(url: str, ca_file: str, settings: LogsAnalysisSettings = SETTINGS) -> LogsAnalysis:
    client = LogsQueryClient(StaticToken(), endpoint=url + "/v1", connection_verify=ca_file, retry_backoff_factor=0.01)
    return LogsAnalysis(client, settings)


def sent(stub: StubServer) -> Recorded:
    return stub.calls("POST", LOGS_PATH)[-1]


def test_the_success_rate_counts_the_new_revisions_5xx_over_its_window(stub: StubServer, workspace: Workspace) -> None:
    workspace.answers = [counts(200, 3)]

    measurement = provider(stub.url, stub.ca_file).measure(success_rate())

    assert measurement.value == pytest.approx(1 - 3 / 200)
    assert measurement.samples == 200 and measurement.error is None
    request = sent(stub)
    assert request.headers["authorization"] == "Bearer stub-token"
    assert request.body["timespan"] == "PT180.0S"  # the window and the ingestion delay
    assert (
        request.body["query"]
        == measurement.query
        == (
            "AppRequests\n"
            "| where TimeGenerated between (ago(180s) .. ago(60s))\n"
            f"| where AppRoleName == 'orders' and AppRoleInstance startswith '{REVISION}-'\n"
            "| summarize Requests = sum(ItemCount), Failed = sumif(ItemCount, toint(ResultCode) between (500 .. 599))"
        )
    )


def test_the_latency_is_the_percentile_of_the_revisions_durations(stub: StubServer, workspace: Workspace) -> None:
    workspace.answers = [table([("Requests", "long"), ("Value", "real")], [50, 231.5])]

    measurement = provider(stub.url, stub.ca_file).measure(latency(99.0))

    assert (measurement.value, measurement.samples) == (231.5, 50)
    assert (
        sent(stub).body["query"].endswith("| summarize Requests = sum(ItemCount), Value = percentile(DurationMs, 99)")
    )


def test_a_custom_query_is_sent_filled_in_and_its_one_number_is_the_value(
    stub: StubServer, workspace: Workspace
) -> None:
    workspace.answers = [table([("avg_DurationMs", "real")], [87.25])]
    query = custom()

    measurement = provider(stub.url, stub.ca_file).measure(query)

    assert measurement.value == 87.25 and measurement.samples is None
    assert sent(stub).body["query"] == measurement.query == query.filled()
    assert "AppRoleName == 'orders'" in measurement.query


def test_the_revision_selector_is_a_setting_and_escapes_names(stub: StubServer, workspace: Workspace) -> None:
    workspace.answers = [counts(10, 0)]
    settings = replace(SETTINGS, selector="tostring(Properties['revision']) == '{revision}'", ingestion_delay_seconds=0)

    provider(stub.url, stub.ca_file, settings).measure(success_rate(revision="it's"))

    query = sent(stub).body["query"]
    assert "| where tostring(Properties['revision']) == 'it\\'s'\n" in query
    assert "between (ago(120s) .. ago(0s))" in query


def test_no_traffic_is_no_data_never_a_perfect_rate(stub: StubServer, workspace: Workspace) -> None:
    workspace.answers = [counts(0, 0)]
    measurement = check_no_data(provider(stub.url, stub.ca_file), success_rate())
    assert measurement.error == f"errors of {REVISION}: no traffic: no request of the revision in the last 120s"

    workspace.answers = [table([("Requests", "long"), ("Failed", "long")])]  # no row at all
    assert "no traffic" in (check_no_data(provider(stub.url, stub.ca_file), success_rate()).error or "")


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (table([("a", "real"), ("b", "real")], [1.0, 2.0]), "the query returned 1 row of 2 columns ['a', 'b']"),
        (table([("a", "real")], [1.0], [2.0]), "the query returned 2 rows"),
        (table([("a", "real")]), "the query returned 0 rows (no traffic or nothing matched)"),
        (table([("a", "string")], ["high"]), "the query's value is not a number (got 'high')"),
        (table([("a", "real")], [None]), "the query's value is not a number (got None)"),
    ],
)
def test_a_custom_query_must_return_one_number(stub: StubServer, workspace: Workspace, answer: Reply, why: str) -> None:
    workspace.answers = [answer]
    measurement = check_no_data(provider(stub.url, stub.ca_file), custom())
    assert why in (measurement.error or "")


def test_a_partial_result_is_not_judged(stub: StubServer, workspace: Workspace) -> None:
    error = {"code": "PartialError", "message": "There were some errors", "details": [{"code": "EngineError"}]}
    workspace.answers = [table([("Requests", "long"), ("Failed", "long")], [90, 0], error=error)]

    measurement = check_no_data(provider(stub.url, stub.ca_file), success_rate())

    assert "partial result (PartialError: There were some errors)" in (measurement.error or "")


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (failure(500, "InternalServerError", "engine down"), "Log Analytics query failed: HTTP 500"),
        (
            failure(403, "InsufficientAccessError", "no access"),
            "HTTP 403: access denied; grant the control plane's identity Log Analytics Reader on the workspace",
        ),
        (failure(401, "InvalidTokenError", "bad token"), "HTTP 401: access denied"),
        (failure(400, "BadArgumentError", "Failed to resolve table 'AppRequest'"), "HTTP 400"),
        (Reply(200, {"tables": "not a list"}), "unexpected Log Analytics answer"),
        (Reply(200, b"<html>gateway</html>", {"Content-Type": "text/html"}), "Log Analytics"),
    ],
)
def test_errors_refusals_and_malformed_answers_are_no_data(
    stub: StubServer, workspace: Workspace, answer: Reply, why: str
) -> None:
    workspace.answers = [answer]
    measurement = check_no_data(provider(stub.url, stub.ca_file), success_rate())
    assert why in (measurement.error or "")


def test_a_hanging_workspace_is_no_data_within_the_timeout(stub: StubServer, workspace: Workspace) -> None:
    workspace.answers = [counts(10, 0)]
    workspace.hold = threading.Event()
    settings = replace(SETTINGS, timeout_seconds=0.5)

    measurement = check_no_data(provider(stub.url, stub.ca_file, settings), success_rate())
    workspace.hold.set()

    assert "no answer within 0.5s" in (measurement.error or "")


def test_an_unreachable_workspace_is_no_data(stub: StubServer) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    measurement = check_no_data(provider(f"https://127.0.0.1:{port}", stub.ca_file), success_rate())
    assert "Log Analytics query failed" in (measurement.error or "")


class TestLogsAnalysisContract(AnalysisProviderContract):
    """Against a stub answering by the KQL it gets: a revision other than ``REVISION`` has no traffic."""

    @pytest.fixture
    def analysis(self, stub: StubServer) -> LogsAnalysis:
        def answer(request: Recorded, _match: Any) -> Reply:
            text = request.body["query"]
            if "percentile" in text:
                return table([("Requests", "long"), ("Value", "real")], [40, 120.0])
            if REVISION not in text and "summarize avg" not in text:
                return counts(0, 0)  # another revision: no traffic
            return counts(100, 1) if "sumif" in text else table([("x", "real")], [3.0])

        stub.route("POST", LOGS_PATH, answer)
        return provider(stub.url, stub.ca_file)

    @pytest.fixture
    def arranged(self) -> Arranged:
        return Arranged(
            measured={success_rate(): 0.99, latency(): 120.0, custom(): 3.0},
            no_data=[success_rate(revision="orders--idle"), success_rate(target=None)],
        )


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"builtin": "requestThroughput"}, "unknown builtin 'requestThroughput'"),
        ({"builtin": "requestLatency", "percentile": 150.0}, "percentile must be between 0 and 100 (got 150)"),
        ({"window_seconds": 0}, "the window must be positive (got 0s)"),
        (
            {"builtin": None, "query": "AppRequests | where x == '{{ tier }}'"},
            "the query names an unknown placeholder 'tier'",
        ),
    ],
)
def test_a_query_that_cannot_be_written_is_no_data_and_sends_nothing(
    stub: StubServer, changes: dict[str, Any], why: str
) -> None:
    measurement = check_no_data(provider(stub.url, stub.ca_file), success_rate(**changes))
    assert measurement.error is not None and measurement.error.startswith(f"errors of {REVISION}: {why}")
    assert stub.calls("POST", LOGS_PATH) == []
