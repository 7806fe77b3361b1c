"""The managed Prometheus analysis provider against a stub of the Prometheus HTTP query API on 127.0.0.1: TLS
with a token (Azure Monitor workspace), plain HTTP without one (the local host). The stub records each request,
so the tests check the form-encoded PromQL, the token and the endpoint path; it answers in the API's own JSON
(``status``, ``data.resultType``, ``data.result``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import pytest

from controlplane.adapters.azure.monitor.prometheus import PrometheusAnalysis, PrometheusSettings
from controlplane.domain.analysis import MetricQuery
from tests.contracts.analysis_provider import AnalysisProviderContract, Arranged, check_no_data
from tests.stubs.https_stub import Recorded, Reply, StaticToken, StubServer

QUERY_PATH = r"/api/v1/query"
REVISION = "orders--3f9a0c21b7d4"
SELECTOR = f'namespace="dev",app_kubernetes_io_name="orders",controlplane_azure_revision="{REVISION}"'
SETTINGS = PrometheusSettings(timeout_seconds=1.0, backoff_seconds=0.01)


def success_rate(endpoint: str, **changes: Any) -> MetricQuery:
    query = MetricQuery("errors", "prometheus", endpoint, "dev", "orders", REVISION, 120, builtin="requestSuccessRate")
    return replace(query, **changes)


def latency(endpoint: str, percentile: float = 95.0) -> MetricQuery:
    return success_rate(endpoint, metric="latency", builtin="requestLatency", percentile=percentile)


def custom(endpoint: str, text: str = 'sum(up{namespace="{{ environment }}"})') -> MetricQuery:
    return success_rate(endpoint, metric="custom", builtin=None, query=text)


def vector(*values: str, labels: list[dict[str, str]] | None = None) -> Reply:
    series = [{"metric": (labels or [{}] * len(values))[i], "value": [1764158400.0, v]} for i, v in enumerate(values)]
    return Reply(200, {"status": "success", "data": {"resultType": "vector", "result": series}})


def api_error(status: int, kind: str, text: str) -> Reply:
    return Reply(status, {"status": "error", "errorType": kind, "error": text})


class Prometheus:
    """Answers from a script (the last answer repeats); ``hold`` makes answers wait, as a hung endpoint."""

    def __init__(self, stub: StubServer) -> None:
        self.answers: list[Reply] = []
        self.hold: threading.Event | None = None
        stub.route("POST", QUERY_PATH, self._answer)

    def _answer(self, _request: Recorded, _match: Any) -> Reply:
        if self.hold is not None:
            self.hold.wait(10)
        if not self.answers:
            return api_error(404, "not_found", "nothing scripted")
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    with StubServer() as stub:
        yield stub


@pytest.fixture(scope="module")
def plain_server() -> Iterator[StubServer]:
    with StubServer(tls=False) as stub:
        yield stub


@pytest.fixture
def stub(server: StubServer) -> StubServer:
    server.requests.clear()
    return server


@pytest.fixture
def prometheus(stub: StubServer) -> Prometheus:
    return Prometheus(stub)


def provider(stub: StubServer, settings: PrometheusSettings = SETTINGS) -> PrometheusAnalysis:
    return PrometheusAnalysis(settings, StaticToken(), connection_verify=stub.ca_file)


def sent_promql(request: Recorded) -> str:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    [promql] = parse_qs(request.body.decode())["query"]
    return promql


def test_the_success_rate_is_one_minus_the_revisions_5xx_share(stub: StubServer, prometheus: Prometheus) -> None:
    prometheus.answers = [vector("0.985")]

    measurement = provider(stub).measure(success_rate(stub.url))

    assert measurement.value == 0.985 and measurement.error is None
    [request] = stub.calls("POST", QUERY_PATH)
    assert request.headers["authorization"] == "Bearer stub-token"
    assert (
        sent_promql(request)
        == measurement.query
        == (
            f'1 - (sum(rate(http_requests_total{{{SELECTOR},code=~"5.."}}[120s])) or vector(0))'
            f" / sum(rate(http_requests_total{{{SELECTOR}}}[120s]))"
        )
    )


def test_the_latency_is_a_histogram_quantile_in_milliseconds(stub: StubServer, prometheus: Prometheus) -> None:
    prometheus.answers = [vector("412.5")]

    measurement = provider(stub).measure(latency(stub.url + "/", 99.0))  # a trailing slash is not doubled

    assert measurement.value == 412.5
    [request] = stub.calls("POST", QUERY_PATH)
    assert sent_promql(request) == (
        f"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{SELECTOR}}}[120s]))) * 1000"
    )


def test_a_custom_query_is_sent_filled_in_and_a_scalar_is_a_value(stub: StubServer, prometheus: Prometheus) -> None:
    prometheus.answers = [Reply(200, {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}})]

    measurement = provider(stub).measure(custom(stub.url))

    assert measurement.value == 3.0
    assert sent_promql(stub.calls("POST", QUERY_PATH)[0]) == measurement.query == 'sum(up{namespace="dev"})'


def test_labels_and_the_status_label_are_settings_and_names_are_escaped(
    stub: StubServer, prometheus: Prometheus
) -> None:
    prometheus.answers = [vector("1")]
    settings = replace(SETTINGS, selector='service="{service}",revision="{revision}"', status_label="status")

    provider(stub, settings).measure(success_rate(stub.url, revision='r"1'))

    promql = sent_promql(stub.calls("POST", QUERY_PATH)[0])
    assert 'http_requests_total{service="orders",revision="r\\"1",status=~"5.."}[120s]' in promql


def test_a_loopback_http_endpoint_gets_no_token(plain_server: StubServer) -> None:
    Prometheus(plain_server).answers = [vector("0.5")]
    local = PrometheusAnalysis(SETTINGS)  # no credential: the local host

    measurement = local.measure(success_rate(plain_server.url))

    assert measurement.value == 0.5
    assert "authorization" not in plain_server.calls("POST", QUERY_PATH)[-1].headers


def test_a_token_never_goes_over_plain_http_and_https_needs_a_credential(stub: StubServer) -> None:
    remote = check_no_data(provider(stub), success_rate("http://prometheus.example.com"))
    assert "must be https" in (remote.error or "")
    anonymous = check_no_data(PrometheusAnalysis(SETTINGS), success_rate(stub.url))
    assert "no credential for" in (anonymous.error or "")
    assert stub.calls("POST", QUERY_PATH) == []


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (vector(), "no series matched (no traffic, or the selector matches nothing)"),
        (vector("NaN"), "NaN: no request in the window (no traffic)"),
        (
            vector("0.9", "0.8", labels=[{"pod": "a"}, {"pod": "b"}]),
            'the query returned 2 series ({pod="a"}, {pod="b"}); it must aggregate to one',
        ),
        (
            Reply(200, {"status": "success", "data": {"resultType": "matrix", "result": []}}),
            "the query returned a matrix",
        ),
        (api_error(400, "bad_data", 'parse error: unexpected "}"'), 'HTTP 400 bad_data: parse error: unexpected "}"'),
        (api_error(503, "unavailable", "query queue full"), "HTTP 503 unavailable: query queue full"),
        (
            Reply(403, {"error": {"code": "Forbidden", "message": "no"}}),
            "HTTP 403: access denied; grant the control plane's identity Monitoring Data Reader on the Azure Monitor "
            "workspace",
        ),
        (Reply(401, None), "HTTP 401: access denied"),
        (Reply(200, b"<html>gateway</html>", {"Content-Type": "text/html"}), "not JSON"),
        (Reply(200, {"status": "success", "data": {"resultType": "vector"}}), "unexpected Prometheus answer"),
        (Reply(200, {"status": "success", "data": {"resultType": "vector", "result": [{}]}}), "unexpected"),
    ],
)
def test_every_answer_without_one_number_is_no_data(
    stub: StubServer, prometheus: Prometheus, answer: Reply, why: str
) -> None:
    prometheus.answers = [answer]
    measurement = check_no_data(provider(stub), success_rate(stub.url))
    assert why in (measurement.error or "")


def test_server_errors_are_retried_then_no_data(stub: StubServer, prometheus: Prometheus) -> None:
    prometheus.answers = [api_error(503, "unavailable", "busy"), vector("0.99")]
    assert provider(stub).measure(success_rate(stub.url)).value == 0.99

    prometheus.answers = [api_error(500, "internal", "down")]
    measurement = check_no_data(provider(stub), success_rate(stub.url))
    assert "HTTP 500 internal: down" in (measurement.error or "")
    assert len(stub.calls("POST", QUERY_PATH)) == 2 + 1 + SETTINGS.retries


def test_a_hanging_endpoint_is_no_data_within_the_timeout(stub: StubServer, prometheus: Prometheus) -> None:
    prometheus.answers = [vector("1")]
    prometheus.hold = threading.Event()
    settings = replace(SETTINGS, timeout_seconds=0.5, retries=0)

    measurement = check_no_data(provider(stub, settings), success_rate(stub.url))
    prometheus.hold.set()

    assert "no answer within 0.5s" in (measurement.error or "")


def test_an_unreachable_endpoint_is_the_metric_source_down(stub: StubServer) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    measurement = check_no_data(provider(stub), success_rate(f"https://127.0.0.1:{port}"))
    assert f"Prometheus at https://127.0.0.1:{port} did not answer" in (measurement.error or "")
    assert "Connection refused" in (measurement.error or "")


class TestPrometheusAnalysisContract(AnalysisProviderContract):
    """Against a stub answering by the PromQL it gets: an ``idle`` revision has no series."""

    @pytest.fixture
    def analysis(self, stub: StubServer) -> PrometheusAnalysis:
        def answer(request: Recorded, _match: Any) -> Reply:
            promql = sent_promql(request)
            if "idle" in promql:
                return vector()
            return vector("250") if "histogram_quantile" in promql else vector("0.97")

        stub.route("POST", QUERY_PATH, answer)
        return provider(stub)

    @pytest.fixture
    def arranged(self, stub: StubServer) -> Arranged:
        return Arranged(
            measured={success_rate(stub.url): 0.97, latency(stub.url): 250.0, custom(stub.url): 0.97},
            no_data=[success_rate(stub.url, revision="orders--idle"), success_rate(stub.url, target=None)],
        )


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"builtin": "requestThroughput"}, "unknown builtin 'requestThroughput'"),
        ({"builtin": "requestLatency", "percentile": 150.0}, "percentile must be between 0 and 100 (got 150)"),
        ({"window_seconds": 0}, "the window must be positive (got 0s)"),
        ({"builtin": None, "query": 'up{job="{{ tier }}"}'}, "the query names an unknown placeholder 'tier'"),
    ],
)
def test_a_query_that_cannot_be_written_is_no_data_and_sends_nothing(
    stub: StubServer, changes: dict[str, Any], why: str
) -> None:
    measurement = check_no_data(provider(stub), success_rate(stub.url, **changes))
    assert measurement.error is not None and measurement.error.startswith(f"errors of {REVISION}: {why}")
    assert stub.calls("POST", QUERY_PATH) == []
