"""The Metrics port on Azure Monitor: rps from Application Insights logs, cpu and queue from platform metrics.

    metric | source                                                   | value
    -------+----------------------------------------------------------+--------------------------------------------
    rps    | KQL over AppRequests of the workspace (LogsQueryClient)  | sum(ItemCount) in the window / its seconds
    cpu    | Container App metric CpuPercentage, or UsageNanoCores /  | mean of the window's per-minute averages
           | requested cores when cpu_cores is set                    | (Azure averages over the replicas)
    queue  | Service Bus metric ActiveMessages, EntityName = queue    | the latest per-minute average

Platform metrics are read with ``MetricsClient`` (azure-monitor-querymetrics; azure-monitor-query 2.x dropped
``MetricsQueryClient``), averages per minute over the window. ``MetricsClient`` is regional: it calls the batch
API (``POST {endpoint}/subscriptions/{id}/metrics:getBatch``) of the region the resources are in, so each
service's resources name their ``region`` and ``AzureMonitorSettings.metrics_endpoint`` turns it into the
endpoint (``https://{region}.metrics.monitor.azure.com``). Logs are read with ``LogsQueryClient`` 2.x.

No data is never 0: a reading without data has ``value=None`` and an error naming why. That covers an
unconfigured service (or one without a region), a failed or timed-out call (after the SDK's own retries:
408/429/5xx, Retry-After), a metric without datapoints (naming the metric's own ``errorCode`` when Azure Monitor
sets one), and for rps a service with no request logged within ``idle_lookback`` (idle, or its telemetry does
not reach the workspace). A service whose requests were logged within ``idle_lookback`` but none in the window
reads a true 0, which scale-to-zero needs. A *partial* Log Analytics result (``LogsQueryPartialResult``) is not
used: a partial count reads low, and a low rps would scale down on bad data, so it is a no-data reading naming
the partial error. ``read`` never raises.

The rps window ends ``ingestion_delay`` ago, because Application Insights ingests with a delay of about a
minute and a window ending now would count low.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError
from azure.core.pipeline import PipelineResponse
from azure.monitor.query import LogsQueryClient
from azure.monitor.querymetrics import MetricAggregationType, MetricsClient

from controlplane.adapters.azure.monitor.failures import MALFORMED, NoData, describe, query_workspace
from controlplane.adapters.azure.monitor.selectors import kql_string
from controlplane.domain.runtime import MetricKind, MetricReading

GRAIN = timedelta(minutes=1)  # the metrics' time grain: the window is whole minutes
CONTAINER_APPS = "Microsoft.App/containerApps"
SERVICE_BUS = "Microsoft.ServiceBus/namespaces"


@dataclass(frozen=True)
class ServiceResources:
    """Where one service's platform metrics live (ARM resource ids)."""

    container_app_id: str | None = None
    cpu_cores: float | None = None  # cores requested per replica: cpu from UsageNanoCores; None: CpuPercentage
    queue_namespace_id: str | None = None  # the Service Bus namespace of the service's queue
    queue_name: str | None = None  # the queue (or topic): the EntityName dimension of ActiveMessages
    region: str | None = None  # where the app and the namespace are (``westeurope``): MetricsClient is regional


Resolver = Callable[[str, str], ServiceResources | None]
MetricsClients = Callable[[str], MetricsClient]  # the MetricsClient of a regional endpoint
REGIONAL_METRICS = "https://{region}.metrics.monitor.azure.com"


@dataclass(frozen=True)
class AzureMonitorSettings:
    """``resources``: (environment, service) -> ServiceResources, or a function of the two returning one or None.
    ``role_name`` is the ``AppRoleName`` of a service (``{environment}`` and ``{service}`` are filled in);
    ``environment_property`` the custom dimension that holds the environment (None: the role name says it).
    ``metrics_endpoint`` is the platform metrics endpoint of a region (``{region}`` is filled in; an endpoint
    without it serves every service, e.g. a sovereign cloud's single region)."""

    workspace_id: str
    resources: Mapping[tuple[str, str], ServiceResources] | Resolver = field(default_factory=dict)
    window: timedelta = timedelta(minutes=5)
    ingestion_delay: timedelta = timedelta(minutes=1)
    idle_lookback: timedelta = timedelta(hours=1)
    timeout_seconds: float = 30.0
    role_name: str = "{service}"
    environment_property: str | None = "environment"
    metrics_endpoint: str = REGIONAL_METRICS

    def __post_init__(self) -> None:
        seconds = self.window.total_seconds()
        problems = [] if seconds > 0 and seconds % 60 == 0 else [f"window must be whole minutes (got {self.window})"]
        if self.ingestion_delay < timedelta(0):
            problems.append(f"ingestion_delay must not be negative (got {self.ingestion_delay})")
        if self.timeout_seconds <= 0:
            problems.append(f"timeout_seconds must be positive (got {self.timeout_seconds})")
        try:
            self.role_name.format(environment="", service="")
        except (KeyError, IndexError, ValueError):
            problems.append(f"role_name may use only {{environment}} and {{service}} (got {self.role_name!r})")
        try:
            self.metrics_endpoint.format(region="")
        except (KeyError, IndexError, ValueError):
            problems.append(f"metrics_endpoint may use only {{region}} (got {self.metrics_endpoint!r})")
        if problems:
            raise ValueError("AzureMonitorSettings: " + "; ".join(problems))

    def resources_of(self, environment: str, service: str) -> ServiceResources | None:
        if callable(self.resources):
            return self.resources(environment, service)
        return self.resources.get((environment, service))


class AzureMonitorMetrics:
    """The Metrics port on Azure Monitor (see the module docstring for what each metric reads).

    ``logs`` and ``metrics`` are built elsewhere with ``DefaultAzureCredential``: ``LogsQueryClient(credential)``
    and ``metrics(endpoint)`` gives ``MetricsClient(endpoint, credential)`` (one is made per endpoint). Each call
    is bounded by ``settings.timeout_seconds`` (the Log Analytics server timeout, the operation timeout across
    retries, and each read).
    """

    def __init__(
        self,
        logs: LogsQueryClient,
        metrics: MetricsClients,
        settings: AzureMonitorSettings,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._logs = logs
        self._metrics = metrics
        self._regional: dict[str, MetricsClient] = {}
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        seconds = settings.timeout_seconds
        self._call_options: dict[str, Any] = {"timeout": seconds, "read_timeout": seconds}  # azure-core keywords

    def read(self, environment: str, service: str, metrics: Iterable[MetricKind]) -> list[MetricReading]:
        """One reading per metric asked for; failures become readings with ``value=None`` and an error."""
        kinds = [MetricKind(kind) for kind in metrics]
        readings: dict[MetricKind, MetricReading] = {}
        for kind in dict.fromkeys(kinds):
            try:
                readings[kind] = MetricReading(kind, self._value(kind, environment, service))
            except NoData as missing:
                readings[kind] = MetricReading(kind, None, f"{environment}/{service} {kind}: {missing}")
        return [readings[kind] for kind in kinds]

    def _value(self, kind: MetricKind, environment: str, service: str) -> float:
        if kind is MetricKind.RPS:
            return self._rps(environment, service)
        resources = self._settings.resources_of(environment, service) or ServiceResources()
        if kind is MetricKind.CPU:
            if not resources.container_app_id:
                raise NoData("no Container App configured for this service (set its container_app_id)")
            cores = resources.cpu_cores
            name = "UsageNanoCores" if cores else "CpuPercentage"
            points = self._points(resources, resources.container_app_id, name, CONTAINER_APPS, None)
            mean = sum(value for _, value in points) / len(points)
            return mean / (cores * 1e9) * 100 if cores else mean
        if not (resources.queue_namespace_id and resources.queue_name):
            raise NoData("no Service Bus queue configured for this service (set queue_namespace_id and queue_name)")
        entity = f"EntityName eq {_odata(resources.queue_name)}"
        points = self._points(resources, resources.queue_namespace_id, "ActiveMessages", SERVICE_BUS, entity)
        return max(points)[1]  # the latest minute: a queue length is a level, not a rate

    def _rps(self, environment: str, service: str) -> float:
        settings = self._settings
        query = requests_query(environment, service, settings)
        lookback = timedelta(seconds=_lookback_seconds(settings))
        role = "Monitoring Reader (or Log Analytics Reader) on the workspace"
        result = query_workspace(self._logs, settings.workspace_id, query, lookback, settings.timeout_seconds, role)
        rows = [row for table in result.tables for row in table.rows]
        if not rows:
            raise NoData(
                f"no request logged in AppRequests of workspace {settings.workspace_id} within "
                f"{int(lookback.total_seconds())}s: the service is idle or its telemetry does not reach the workspace"
                f" (AppRoleName {settings.role_name.format(environment=environment, service=service)!r})"
            )
        try:
            requests = sum(float(row["Requests"]) for row in rows)
        except MALFORMED as error:
            raise NoData(f"unexpected Log Analytics result (no numeric Requests column): {error!r}") from error
        return requests / settings.window.total_seconds()

    def _client(self, resources: ServiceResources) -> MetricsClient:
        template = self._settings.metrics_endpoint
        if "{region}" in template and not resources.region:
            raise NoData("no region configured for this service's resources (set its region: metrics are regional)")
        endpoint = template.format(region=resources.region or "")
        if endpoint not in self._regional:
            self._regional[endpoint] = self._metrics(endpoint)
        return self._regional[endpoint]

    def _points(
        self, resources: ServiceResources, resource_id: str, name: str, namespace: str, filter: str | None
    ) -> list[tuple[datetime, float]]:
        """(timestamp, average) of each minute of the window that has data, oldest first."""
        client = self._client(resources)
        end = self._clock()
        answers: list[PipelineResponse[Any, Any]] = []  # one per attempt; the last is the one the SDK read
        try:
            results = client.query_resources(
                resource_ids=[resource_id],
                metric_names=[name],
                timespan=(end - self._settings.window, end),
                granularity=GRAIN,
                aggregations=[MetricAggregationType.AVERAGE],
                metric_namespace=namespace,
                filter=filter,
                raw_response_hook=answers.append,
                **self._call_options,
            )
            points = sorted(
                (value.timestamp, float(value.average))
                for result in results
                for metric in result.metrics
                if (metric.name or "").lower() == name.lower()
                for series in metric.timeseries
                for value in series.data
                if value.average is not None  # a minute without data has no average: not a zero
            )
        except AzureError as error:
            reason = describe(error, self._settings.timeout_seconds, "Monitoring Reader on the resource")
            raise NoData(f"Azure Monitor metric {name} of {resource_id} failed: {reason}") from error
        except MALFORMED as error:  # a body not in the metrics response shape
            raise NoData(f"unexpected Azure Monitor answer for {name} of {resource_id}: {error!r}") from error
        if not points:
            window = int(self._settings.window.total_seconds())
            why = "; ".join(_metric_errors(answers[-1:], name)) or f"no datapoint in the last {window}s"
            raise NoData(f"Azure Monitor metric {name} of {resource_id}: {why}")
        return points


def requests_query(environment: str, service: str, settings: AzureMonitorSettings) -> str:
    """The KQL of rps: requests of the service in the window, grouped so that no row means nothing logged."""
    end = int(settings.ingestion_delay.total_seconds())
    start = end + int(settings.window.total_seconds())
    conditions = [f"AppRoleName == {kql_string(settings.role_name.format(environment=environment, service=service))}"]
    if settings.environment_property:
        conditions.append(
            f"tostring(Properties[{kql_string(settings.environment_property)}]) == {kql_string(environment)}"
        )
    return "\n".join(
        [
            "AppRequests",
            f"| where TimeGenerated > ago({_lookback_seconds(settings)}s)",
            f"| where {' and '.join(conditions)}",
            f"| summarize Requests = sumif(ItemCount, TimeGenerated between (ago({start}s) .. ago({end}s))),"
            " LastSeen = max(TimeGenerated) by AppRoleName",
        ]
    )



def _lookback_seconds(settings: AzureMonitorSettings) -> int:
    window_end = settings.ingestion_delay + settings.window
    return int(max(window_end, settings.idle_lookback).total_seconds())


def _odata(value: str) -> str:
    """An OData string literal (the metrics ``filter``)."""
    return "'" + value.replace("'", "''") + "'"


def _metric_errors(answers: list[PipelineResponse[Any, Any]], name: str) -> list[str]:
    """``errorCode: errorMessage`` of metric ``name`` in the raw answer, unless Success.

    MetricsClient 1.0.0 drops both fields from its ``Metric``, so they are read from the batch body it parsed
    (``values[].value[]``: one entry per resource, each with its metrics)."""
    try:
        items = [
            item
            for answer in answers
            for resource in answer.http_response.json().get("values") or []
            for item in resource.get("value") or []
        ]
        return [
            f"{item['errorCode']}: {item.get('errorMessage') or ''}".rstrip(": ")
            for item in items
            if item["name"]["value"].lower() == name.lower() and item.get("errorCode") not in (None, "Success")
        ]
    except MALFORMED:  # the readings say "no datapoint" instead
        return []
