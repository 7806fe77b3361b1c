"""The Azure Monitor Metrics adapter with real SDK clients against a TLS stub of Log Analytics and ARM metrics.

``LogsQueryClient`` (azure-monitor-query 2.0.0) and ``MetricsClient`` (azure-monitor-querymetrics 1.0.0) talk
to the stub, which answers in the services' own response shapes: Log Analytics ``tables/columns/rows`` (with a
``PartialError``), the regional metrics batch API ``values[].value[].timeseries[].data[]`` (a minute without
data has no ``average``). The stub answers 400 to a metrics request whose api-version, resource ids,
metricnames, starttime/endtime, interval, aggregation or queue ``filter`` is not what the adapter must send,
so every test checks them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from azure.monitor.query import LogsQueryClient
from azure.monitor.querymetrics import MetricsClient

from controlplane.adapters.azure.monitor.metrics import (
    AzureMonitorMetrics,
    AzureMonitorSettings,
    ServiceResources,
    requests_query,
)
from controlplane.domain.runtime import MetricKind, MetricReading
from tests.builders import T0
from tests.contracts.metrics import ALL, Known, MetricsContract
from tests.stubs.https_stub import Recorded, Reply, StaticToken, StubServer

GROUP = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dev/providers"
WORKSPACE = "11111111-2222-3333-4444-555555555555"
NAMESPACE_ID = f"{GROUP}/Microsoft.ServiceBus/namespaces/sb-dev"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
METRICS_PATH = rf"/subscriptions/{SUBSCRIPTION}/metrics:getBatch"
METRICS_API_VERSION = "2024-02-01"  # what MetricsClient 1.0.0 sends
WINDOW = {"starttime": "2026-11-26T11:55:00.000Z", "endtime": "2026-11-26T12:00:00.000Z"}  # ending at T0
REGION = "westeurope"
LOGS_PATH = rf"/v1/workspaces/{WORKSPACE}/query"
COLUMNS = [
    {"name": "AppRoleName", "type": "string"},
    {"name": "Requests", "type": "long"},
    {"name": "LastSeen", "type": "datetime"},
]


def app_id(service: str) -> str:
    return f"{GROUP}/Microsoft.App/containerApps/{service}"


def resources(service: str, cpu_cores: float | None = None) -> ServiceResources:
    return ServiceResources(app_id(service), cpu_cores, NAMESPACE_ID, f"{service}-jobs", REGION)


def requests_table(*rows: tuple[str, int]) -> dict:
    return {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": COLUMNS,
                "rows": [[role, count, "2026-11-26T11:58:30.1234567Z"] for role, count in rows],
            }
        ]
    }


def timeseries(
    resource: str,
    name: str,
    values: list[float | None],
    namespace: str,
    *,
    entity: str | None = None,
    metric_error: tuple[str, str] | None = None,
) -> dict:
    """A metrics batch answer for one resource: one datapoint a minute, ``None`` a minute without data;
    ``entity`` is the EntityName of a filtered series, ``metric_error`` its (errorCode, errorMessage)."""
    dimension = {"name": {"value": "entityname", "localizedValue": "entityname"}, "value": entity}
    code, message = metric_error or ("Success", "")
    data = [
        {"timeStamp": f"2026-11-26T11:5{5 + minute}:00Z", **({} if value is None else {"average": value})}
        for minute, value in enumerate(values)
    ]
    answer = {
        "starttime": "2026-11-26T11:55:00.000Z",
        "endtime": "2026-11-26T12:00:00.000Z",
        "interval": "PT1M",
        "value": [
            {
                "id": f"{resource}/providers/Microsoft.Insights/metrics/{name}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": name, "localizedValue": name},
                "displayDescription": "",
                "unit": "Count",
                "timeseries": [{"metadatavalues": [dimension] if entity else [], "data": data}] if values else [],
                "errorCode": code,
                **({"errorMessage": message} if message else {}),
            }
        ],
        "namespace": namespace,
        "resourceregion": REGION,
        "resourceid": resource,
    }
    return {"values": [answer]}


def error(status: int, code: str, message: str, **headers: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers)


@dataclass
class Monitor:
    """Scripted answers: per AppRoleName for queries, per (resource, metric) for metrics; the last one repeats."""

    stub: StubServer
    logs: dict[str, list[Reply]] = field(default_factory=dict)
    metrics: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    hold: threading.Event | None = None  # when set: answers wait for it, as a hanging service would

    def __post_init__(self) -> None:
        self.stub.route("POST", LOGS_PATH, self._query)
        self.stub.route("POST", METRICS_PATH, self._metric)

    def _query(self, request: Recorded, _match: re.Match[str]) -> Reply:
        self._wait()
        role = re.search(r"AppRoleName == '([^']*)'", request.body["query"])
        return _next(self.logs.get(role.group(1) if role else "", []))

    def _metric(self, request: Recorded, _match: re.Match[str]) -> Reply:
        self._wait()
        if problem := _metrics_request_problem(request):
            return error(400, "BadRequest", problem)
        [resource] = request.body["resourceids"]
        return _next(self.metrics.get((resource, request.query.get("metricnames", "")), []))

    def _wait(self) -> None:
        if self.hold is not None:
            self.hold.wait(10)

    def script_service(self, service: str, cpu: list[float | None], queue: list[float | None]) -> None:
        self.metrics[(app_id(service), "CpuPercentage")] = [
            Reply(200, timeseries(app_id(service), "CpuPercentage", cpu, "Microsoft.App/containerApps"))
        ]
        self.metrics[(NAMESPACE_ID, "ActiveMessages")] = [
            Reply(
                200,
                timeseries(
                    NAMESPACE_ID, "ActiveMessages", queue, "Microsoft.ServiceBus/namespaces", entity=f"{service}-jobs"
                ),
            )
        ]


def _metrics_request_problem(request: Recorded) -> str | None:
    """What the adapter's metrics request lacks, as the service would refuse it (None: nothing)."""
    query = request.query
    expected = {"api-version": METRICS_API_VERSION, **WINDOW, "interval": "PT1M", "aggregation": "Average"}
    wrong = [
        f"{name}={query.get(name)!r}, not {value!r}" for name, value in expected.items() if query.get(name) != value
    ]
    if query.get("metricnames") not in ("CpuPercentage", "UsageNanoCores", "ActiveMessages"):
        wrong.append(f"metricnames={query.get('metricnames')!r}")
    if query.get("metricnames") == "ActiveMessages" and not query.get("filter", "").startswith("EntityName eq '"):
        wrong.append(f"filter={query.get('filter')!r} (no EntityName)")
    resources = (request.body or {}).get("resourceids")
    if not (
        isinstance(resources, list)
        and len(resources) == 1
        and resources[0].startswith(f"/subscriptions/{SUBSCRIPTION}/")
    ):
        wrong.append(f"resourceids={resources!r}")
    return "; ".join(wrong) or None


def _next(replies: list[Reply]) -> Reply:
    if not replies:
        return error(404, "NoScript", "nothing scripted")
    return replies.pop(0) if len(replies) > 1 else replies[0]


SETTINGS = AzureMonitorSettings(
    workspace_id=WORKSPACE,
    resources={("dev", name): resources(name) for name in ("orders", "billing", "payments")},
    window=timedelta(seconds=300),
    ingestion_delay=timedelta(seconds=60),
    idle_lookback=timedelta(hours=1),
    timeout_seconds=1.0,
)


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    with StubServer() as stub:
        yield stub


@pytest.fixture
def stub(server: StubServer) -> StubServer:
    server.requests.clear()
    return server


@pytest.fixture
def monitor(stub: StubServer) -> Monitor:
    return Monitor(stub)  # its routes are added last, so they win over those of earlier tests


def adapter(
    stub: StubServer, settings: AzureMonitorSettings = SETTINGS, endpoints: list[str] | None = None
) -> AzureMonitorMetrics:
    """The adapter over the stub; every regional endpoint it asks a MetricsClient for is added to ``endpoints``
    and served by the stub."""
    options = {"connection_verify": stub.ca_file, "retry_backoff_factor": 0.01}
    logs = LogsQueryClient(StaticToken(), endpoint=stub.url + "/v1", **options)

    def regional(endpoint: str) -> MetricsClient:
        (endpoints if endpoints is not None else []).append(endpoint)
        return MetricsClient(stub.url, StaticToken(), **options)

    return AzureMonitorMetrics(logs, regional, settings, clock=lambda: T0)


def read(metrics: AzureMonitorMetrics, service: str, kinds: list[MetricKind] = ALL) -> dict[MetricKind, MetricReading]:
    return {reading.metric: reading for reading in metrics.read("dev", service, kinds)}


class TestAzureMonitorMetrics(MetricsContract):
    @pytest.fixture
    def metrics(self, stub: StubServer, monitor: Monitor) -> AzureMonitorMetrics:
        monitor.logs["orders"] = [Reply(200, requests_table(("orders", 600)))]
        monitor.script_service("orders", cpu=[40.0, None, 45.0], queue=[7.0, 0.0])
        monitor.logs["billing"] = [Reply(200, requests_table())]
        monitor.metrics[(app_id("billing"), "CpuPercentage")] = [
            Reply(200, timeseries(app_id("billing"), "CpuPercentage", [None, None], "Microsoft.App/containerApps"))
        ]
        monitor.logs["payments"] = [error(500, "InternalServerError", "boom")]
        monitor.metrics[(app_id("payments"), "CpuPercentage")] = [error(503, "ServiceUnavailable", "later")]
        return adapter(stub)

    @pytest.fixture
    def known(self) -> Known:
        return "dev", "orders", {MetricKind.CPU: 42.5, MetricKind.QUEUE: 0.0, MetricKind.RPS: 2.0}

    @pytest.fixture
    def silent(self, monitor: Monitor) -> tuple[str, str]:
        monitor.metrics[(NAMESPACE_ID, "ActiveMessages")] = [
            Reply(200, timeseries(NAMESPACE_ID, "ActiveMessages", [], "Microsoft.ServiceBus/namespaces"))
        ]
        return "dev", "billing"

    @pytest.fixture
    def failing(self, monitor: Monitor) -> tuple[str, str]:
        monitor.metrics[(NAMESPACE_ID, "ActiveMessages")] = [error(500, "InternalServerError", "boom")]
        return "dev", "payments"


def test_rps_is_a_kql_count_over_the_window_of_the_services_requests(stub: StubServer, monitor: Monitor) -> None:
    monitor.logs["orders"] = [Reply(200, requests_table(("orders", 600)))]

    reading = read(adapter(stub), "orders", [MetricKind.RPS])[MetricKind.RPS]

    assert reading == MetricReading(MetricKind.RPS, 2.0)
    [request] = stub.calls("POST", LOGS_PATH)
    assert request.headers["authorization"] == "Bearer stub-token"
    assert request.headers["prefer"] == "wait=1"
    assert request.body["timespan"] == "PT3600.0S"
    assert request.body["query"] == (
        "AppRequests\n"
        "| where TimeGenerated > ago(3600s)\n"
        "| where AppRoleName == 'orders' and tostring(Properties['environment']) == 'dev'\n"
        "| summarize Requests = sumif(ItemCount, TimeGenerated between (ago(360s) .. ago(60s))),"
        " LastSeen = max(TimeGenerated) by AppRoleName"
    )


def test_cpu_and_queue_are_platform_metrics_of_the_app_and_the_namespace(stub: StubServer, monitor: Monitor) -> None:
    monitor.script_service("orders", cpu=[30.0, 50.0, None], queue=[3.0, None, 12.0, None])

    endpoints: list[str] = []
    readings = read(adapter(stub, endpoints=endpoints), "orders", [MetricKind.CPU, MetricKind.QUEUE])

    assert readings[MetricKind.CPU] == MetricReading(MetricKind.CPU, 40.0)
    assert readings[MetricKind.QUEUE] == MetricReading(MetricKind.QUEUE, 12.0)  # the latest minute with data
    assert endpoints == ["https://westeurope.metrics.monitor.azure.com"]  # one regional client, made once
    cpu, queue = stub.calls("POST", METRICS_PATH)
    assert cpu.body == {"resourceids": [app_id("orders")]}
    assert queue.body == {"resourceids": [NAMESPACE_ID]}
    common = {"api-version": METRICS_API_VERSION, **WINDOW, "interval": "PT1M", "aggregation": "Average"}
    assert cpu.query == {**common, "metricnames": "CpuPercentage", "metricnamespace": "Microsoft.App/containerApps"}
    assert queue.query == {
        **common,
        "metricnames": "ActiveMessages",
        "metricnamespace": "Microsoft.ServiceBus/namespaces",
        "filter": "EntityName eq 'orders-jobs'",
    }
    assert cpu.headers["authorization"] == queue.headers["authorization"] == "Bearer stub-token"


def test_a_service_without_a_region_has_no_platform_metrics_naming_the_fix(stub: StubServer, monitor: Monitor) -> None:
    settings = replace(SETTINGS, resources={("dev", "orders"): replace(resources("orders"), region=None)})

    reading = read(adapter(stub, settings), "orders", [MetricKind.CPU])[MetricKind.CPU]

    assert reading.value is None
    assert reading.error == (
        "dev/orders cpu: no region configured for this service's resources (set its region: metrics are regional)"
    )
    assert stub.calls("POST", METRICS_PATH) == []


def test_a_metric_error_code_without_data_is_no_data_naming_it(stub: StubServer, monitor: Monitor) -> None:
    failed = timeseries(
        app_id("orders"), "CpuPercentage", [], "Microsoft.App/containerApps", metric_error=("QueryFailed", "try later")
    )
    monitor.metrics[(app_id("orders"), "CpuPercentage")] = [Reply(200, failed)]

    reading = read(adapter(stub), "orders", [MetricKind.CPU])[MetricKind.CPU]

    assert reading == MetricReading(
        MetricKind.CPU,
        None,
        f"dev/orders cpu: Azure Monitor metric CpuPercentage of {app_id('orders')}: QueryFailed: try later",
    )


def test_an_answer_not_in_the_metrics_shape_is_no_data(stub: StubServer, monitor: Monitor) -> None:
    broken = timeseries(app_id("orders"), "CpuPercentage", [12.0], "Microsoft.App/containerApps")
    broken["values"][0]["value"][0]["timeseries"][0]["data"][0]["timeStamp"] = "yesterday"
    monitor.metrics[(app_id("orders"), "CpuPercentage")] = [Reply(200, broken)]

    reading = read(adapter(stub), "orders", [MetricKind.CPU])[MetricKind.CPU]

    assert reading.value is None
    assert reading.error is not None
    assert f"unexpected Azure Monitor answer for CpuPercentage of {app_id('orders')}" in reading.error


def test_cpu_from_nano_cores_is_a_percent_of_the_requested_cores(stub: StubServer, monitor: Monitor) -> None:
    monitor.metrics[(app_id("orders"), "UsageNanoCores")] = [
        Reply(200, timeseries(app_id("orders"), "UsageNanoCores", [2.0e8, 3.0e8], "Microsoft.App/containerApps"))
    ]
    settings = replace(SETTINGS, resources={("dev", "orders"): resources("orders", cpu_cores=0.5)})

    reading = read(adapter(stub, settings), "orders", [MetricKind.CPU])[MetricKind.CPU]

    assert reading == MetricReading(MetricKind.CPU, pytest.approx(50.0))


def test_a_partial_result_is_no_data_naming_the_partial_error(stub: StubServer, monitor: Monitor) -> None:
    partial = {
        **requests_table(("orders", 90)),
        "error": {
            "code": "PartialError",
            "message": "There were some errors when processing your query.",
            "details": [{"code": "EngineError", "message": "Query result set has exceeded the internal data size"}],
        },
    }
    monitor.logs["orders"] = [Reply(200, partial)]

    reading = read(adapter(stub), "orders", [MetricKind.RPS])[MetricKind.RPS]

    assert reading.value is None
    assert reading.error is not None
    assert "dev/orders rps: Log Analytics returned a partial result (PartialError: There were some" in reading.error


def test_an_empty_table_is_no_data_and_requests_logged_earlier_make_a_true_zero(
    stub: StubServer, monitor: Monitor
) -> None:
    monitor.logs["orders"] = [Reply(200, requests_table()), Reply(200, requests_table(("orders", 0)))]
    metrics = adapter(stub)

    empty = read(metrics, "orders", [MetricKind.RPS])[MetricKind.RPS]
    idle = read(metrics, "orders", [MetricKind.RPS])[MetricKind.RPS]

    assert empty.value is None
    assert empty.error is not None
    assert "no request logged in AppRequests of workspace" in empty.error
    assert "AppRoleName 'orders'" in empty.error
    assert idle == MetricReading(MetricKind.RPS, 0.0)


def test_throttling_is_retried_after_retry_after(stub: StubServer, monitor: Monitor) -> None:
    throttled = error(429, "TooManyRequests", "slow down", **{"Retry-After": "0"})
    monitor.logs["orders"] = [throttled, Reply(200, requests_table(("orders", 300)))]
    monitor.script_service("orders", cpu=[20.0], queue=[1.0])
    monitor.metrics[(app_id("orders"), "CpuPercentage")].insert(0, throttled)

    readings = read(adapter(stub), "orders", [MetricKind.RPS, MetricKind.CPU])

    assert readings[MetricKind.RPS] == MetricReading(MetricKind.RPS, 1.0)
    assert readings[MetricKind.CPU] == MetricReading(MetricKind.CPU, 20.0)
    assert len(stub.calls("POST", LOGS_PATH)) == 2
    assert len(stub.calls("POST", METRICS_PATH)) == 2


def test_a_persisting_server_error_is_no_data_after_the_retries(stub: StubServer, monitor: Monitor) -> None:
    monitor.logs["orders"] = [error(500, "InternalServerError", "the query engine is down")]
    monitor.metrics[(app_id("orders"), "CpuPercentage")] = [error(500, "InternalServerError", "metrics are down")]

    readings = read(adapter(stub), "orders", [MetricKind.RPS, MetricKind.CPU])

    rps, cpu = readings[MetricKind.RPS], readings[MetricKind.CPU]
    assert rps.value is None and cpu.value is None
    assert rps.error is not None and "dev/orders rps: Log Analytics query failed: HTTP 500" in rps.error
    assert cpu.error is not None and "HTTP 500" in cpu.error and "(InternalServerError) metrics are down" in cpu.error
    assert len(stub.calls("POST", LOGS_PATH)) > 1
    assert len(stub.calls("POST", METRICS_PATH)) > 1


def test_a_hanging_service_is_no_data_within_the_timeout(stub: StubServer, monitor: Monitor) -> None:
    monitor.logs["orders"] = [Reply(200, requests_table(("orders", 300)))]
    monitor.script_service("orders", cpu=[20.0], queue=[1.0])
    monitor.hold = threading.Event()
    metrics = adapter(stub, replace(SETTINGS, timeout_seconds=0.5))

    started = time.monotonic()
    readings = read(metrics, "orders", [MetricKind.RPS, MetricKind.CPU])
    elapsed = time.monotonic() - started
    monitor.hold.set()
    time.sleep(0.2)  # let the stub finish answering the client that gave up, within this test

    for reading in readings.values():
        assert reading.value is None
        assert reading.error is not None and "no answer within 0.5s" in reading.error
    assert elapsed < 3.0


def test_an_unknown_resource_is_no_data_naming_the_resource(stub: StubServer, monitor: Monitor) -> None:
    message = "The Resource 'Microsoft.App/containerApps/orders' under resource group 'rg-dev' was not found."
    monitor.metrics[(app_id("orders"), "CpuPercentage")] = [error(404, "ResourceNotFound", message)]

    reading = read(adapter(stub), "orders", [MetricKind.CPU])[MetricKind.CPU]

    assert reading.value is None
    assert reading.error == (
        f"dev/orders cpu: Azure Monitor metric CpuPercentage of {app_id('orders')} failed: "
        f"HTTP 404 Not Found: (ResourceNotFound) {message}"
    )


def test_a_service_without_configured_resources_names_the_fix(stub: StubServer, monitor: Monitor) -> None:
    monitor.logs["catalog"] = [Reply(200, requests_table(("catalog", 30)))]

    readings = read(adapter(stub), "catalog")

    assert readings[MetricKind.RPS] == MetricReading(MetricKind.RPS, 0.1)
    assert readings[MetricKind.CPU].error == (
        "dev/catalog cpu: no Container App configured for this service (set its container_app_id)"
    )
    assert readings[MetricKind.QUEUE].error == (
        "dev/catalog queue: no Service Bus queue configured for this service (set queue_namespace_id and queue_name)"
    )
    assert stub.calls("POST", METRICS_PATH) == []


def test_a_resolver_function_and_a_role_name_per_environment() -> None:
    settings = replace(
        SETTINGS,
        resources=lambda environment, service: resources(service) if environment == "dev" else None,
        role_name="{environment}.{service}",
        environment_property=None,
    )
    assert settings.resources_of("dev", "orders") == resources("orders")
    assert settings.resources_of("prod", "orders") is None
    query = requests_query("dev", "o'rders", settings)
    assert "| where AppRoleName == 'dev.o\\'rders'\n" in query
    assert "Properties" not in query


def test_a_refusal_names_the_role_to_grant(stub: StubServer, monitor: Monitor) -> None:
    monitor.logs["orders"] = [
        error(403, "InsufficientAccessError", "The provided credentials have insufficient access")
    ]
    monitor.metrics[(app_id("orders"), "CpuPercentage")] = [error(403, "AuthorizationFailed", "no read permission")]

    readings = read(adapter(stub), "orders", [MetricKind.RPS, MetricKind.CPU])

    assert readings[MetricKind.RPS].error == (
        "dev/orders rps: Log Analytics query failed: HTTP 403: access denied; "
        "grant the control plane's identity Monitoring Reader (or Log Analytics Reader) on the workspace"
    )
    assert readings[MetricKind.CPU].error is not None
    assert readings[MetricKind.CPU].error.endswith(
        "grant the control plane's identity Monitoring Reader on the resource"
    )


def test_settings_refuse_what_the_queries_cannot_use() -> None:
    with pytest.raises(ValueError, match="window must be whole minutes") as raised:
        replace(SETTINGS, window=timedelta(seconds=90), timeout_seconds=0, role_name="{svc}")
    assert "timeout_seconds must be positive (got 0)" in str(raised.value)
    assert "role_name may use only {environment} and {service} (got '{svc}')" in str(raised.value)
    with pytest.raises(ValueError, match=r"metrics_endpoint may use only \{region\}"):
        replace(SETTINGS, metrics_endpoint="https://{location}.metrics.monitor.azure.com")
