"""The AnalysisProvider port on Azure Monitor managed Prometheus: PromQL over its HTTP query API.

Each query is an instant query, ``POST {query.target}/api/v1/query`` with the form ``query=<PromQL>``, on the
Azure Monitor workspace's query endpoint the manifest names (``https://<workspace>.<region>.prometheus.monitor
.azure.com``), with an Entra token for ``https://prometheus.monitor.azure.com/.default`` (the identity needs
Monitoring Data Reader on the Azure Monitor workspace). A plain-http loopback endpoint (a Prometheus on the
local host) gets no token: a token is never sent in the clear. Any other http endpoint is refused for that
reason, and an https endpoint without a credential is no data naming it.

The builtins read the new revision's series, picked by ``settings.selector``
(``CONTROLPLANE_ANALYSIS_PROMQL_SELECTOR``; default: the AKS adapter's pod labels as a ``labelmap`` relabeling
names them, ``namespace="{environment}",app_kubernetes_io_name="{service}",controlplane_azure_revision=
"{revision}"``), over ``[<window_seconds>s]``, from the conventional HTTP server metrics:

    requestSuccessRate (0..1), S the selector, W the window:
        1 - (sum(rate(http_requests_total{S,code=~"5.."}[W])) or vector(0)) / sum(rate(http_requests_total{S}[W]))
    (the failures, not the successes, are summed: a revision answering only 5xx has no success series, and an
    empty numerator would read as no data where the answer is 0; ``or vector(0)`` makes no 5xx series a 1)
    requestLatency (milliseconds; the histogram is in seconds), q = percentile / 100:
        histogram_quantile(q, sum by (le) (rate(http_request_duration_seconds_bucket{S}[W]))) * 1000

(``code`` is ``settings.status_label``.) A custom query is ``query.filled()`` as written.

The answer is the Prometheus API JSON: ``status`` success with a ``vector`` of exactly one sample or a
``scalar``. No data is never 0 or 1: an empty vector (no series: no traffic, or the selector matches nothing),
NaN (0/0: no request in the window), more than one series (the query does not aggregate: which one would be
judged?), an error status, an HTTP error (after retries of 408/429/5xx), a refusal (401/403 naming the role), a
timeout and an unreachable endpoint (the metric source down) are each ``value=None`` with an error.
``measure`` never raises. Requests go through an azure-core pipeline: retries with Retry-After, the bearer
token policy, and ``timeout_seconds`` bounding each connect and read and the call across retries.
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core import PipelineClient
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline import policies
from azure.core.rest import HttpRequest

from controlplane.adapters.azure.monitor.failures import MALFORMED, NoData, describe
from controlplane.adapters.azure.monitor.selectors import check_template, escaped, fill, unmeasurable
from controlplane.domain.analysis import Measurement, MetricQuery

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

SCOPE = "https://prometheus.monitor.azure.com/.default"
ROLE = "Monitoring Data Reader on the Azure Monitor workspace"
DEFAULT_SELECTOR = (
    'namespace="{environment}",app_kubernetes_io_name="{service}",controlplane_azure_revision="{revision}"'
)


@dataclass(frozen=True)
class PrometheusSettings:
    """``selector``: PromQL label matchers picking one revision's series; ``status_label`` the status-code label
    of ``http_requests_total``; ``retries`` of a failed call (no answer, 408, 429, 5xx), the first after
    ``backoff_seconds`` then doubling (a Retry-After wins)."""

    selector: str = DEFAULT_SELECTOR
    status_label: str = "code"
    timeout_seconds: float = 30.0
    retries: int = 2
    backoff_seconds: float = 0.5

    def __post_init__(self) -> None:
        problems = [problem] if (problem := check_template(self.selector, "selector")) else []
        if not self.status_label.replace("_", "a").isalnum():
            problems.append(f"status_label must be a label name (got {self.status_label!r})")
        if self.timeout_seconds <= 0:
            problems.append(f"timeout_seconds must be positive (got {self.timeout_seconds})")
        if problems:
            raise ValueError("PrometheusSettings: " + "; ".join(problems))


class PrometheusAnalysis:
    """Measures ``prometheus`` metrics; ``client_options`` go to azure-core (``connection_verify`` in tests)."""

    def __init__(
        self, settings: PrometheusSettings, credential: TokenCredential | None = None, **client_options: Any
    ) -> None:
        self._settings = settings
        self._credential = credential
        self._options = client_options
        self._clients: dict[str, PipelineClient[HttpRequest, Any]] = {}

    def measure(self, query: MetricQuery) -> Measurement:
        promql = query.query or f"{query.builtin} of {query.revision}"  # until the PromQL is written
        try:
            promql = self._promql(query)
            value = self._value(query, promql)
        except NoData as missing:
            return Measurement(None, promql, f"{query.metric} of {query.revision}: {missing}")
        return Measurement(value, promql)

    def _promql(self, query: MetricQuery) -> str:
        """The PromQL sent for ``query`` (see the module table)."""
        if problem := unmeasurable(query):
            raise NoData(problem)
        if query.builtin is None:
            return query.filled()
        selector = fill(self._settings.selector, '"', query.environment, query.service, query.revision)
        window = f"[{query.window_seconds}s]"
        if query.builtin == "requestLatency":
            quantile = (query.percentile or 95.0) / 100
            buckets = f"rate(http_request_duration_seconds_bucket{{{selector}}}{window})"
            return f"histogram_quantile({quantile:g}, sum by (le) ({buckets})) * 1000"
        label = self._settings.status_label
        failed = f'(sum(rate(http_requests_total{{{selector},{label}=~"5.."}}{window})) or vector(0))'
        return f"1 - {failed} / sum(rate(http_requests_total{{{selector}}}{window}))"

    def _value(self, query: MetricQuery, promql: str) -> float:
        endpoint = (query.target or "").rstrip("/")
        if not endpoint:
            raise NoData("no endpoint for provider prometheus")
        client = self._client(endpoint)
        request = HttpRequest("POST", f"{endpoint}/api/v1/query", data={"query": promql})
        seconds = self._settings.timeout_seconds
        try:
            response = client.send_request(request, timeout=seconds, connection_timeout=seconds, read_timeout=seconds)
            response.raise_for_status()
            body = response.json()
        except HttpResponseError as error:
            raise NoData(f"Prometheus query failed: {_refusal(error) or describe(error, seconds, ROLE)}") from error
        except AzureError as error:
            raise NoData(f"Prometheus at {endpoint} did not answer: {describe(error, seconds, ROLE)}") from error
        except ValueError as error:  # not JSON
            raise NoData(f"unexpected Prometheus answer (not JSON): {error}") from error
        return _sample(body)

    def _client(self, endpoint: str) -> PipelineClient[HttpRequest, Any]:
        if endpoint in self._clients:
            return self._clients[endpoint]
        parts = urlsplit(endpoint)
        local = parts.scheme == "http" and _loopback(parts.hostname or "")
        if parts.scheme != "https" and not local:
            raise NoData(f"endpoint {endpoint} must be https (http only on loopback: no token goes in the clear)")
        if not local and self._credential is None:
            raise NoData(f"no credential for {endpoint} (the token of {SCOPE})")
        settings = self._settings
        chain: list[Any] = [
            policies.HeadersPolicy({"Accept": "application/json"}),
            policies.UserAgentPolicy("runtime-control-plane"),
            policies.RetryPolicy(
                retry_total=settings.retries,
                retry_backoff_factor=settings.backoff_seconds,
                timeout=settings.timeout_seconds,
            ),
        ]
        if not local:
            assert self._credential is not None
            chain.append(policies.BearerTokenCredentialPolicy(self._credential, SCOPE))
        client: PipelineClient[HttpRequest, Any] = PipelineClient(endpoint, policies=chain, **self._options)
        self._clients[endpoint] = client
        return client


def _sample(body: Any) -> float:
    """The one value of an instant query's answer (see the module docstring for what is no data)."""
    try:
        if body.get("status") != "success":
            raise NoData(f"Prometheus answered {body.get('errorType') or 'error'}: {body.get('error') or body}")
        data = body["data"]
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            value = float(result[1])
        elif kind == "vector":
            if not result:
                raise NoData("no series matched (no traffic, or the selector matches nothing)")
            if len(result) > 1:
                shown = ", ".join(_labels(series["metric"]) for series in result[:3])
                raise NoData(f"the query returned {len(result)} series ({shown}); it must aggregate to one")
            value = float(result[0]["value"][1])
        else:
            raise NoData(f"the query returned a {kind}; it must return a vector of one sample or a scalar")
    except MALFORMED as error:
        raise NoData(f"unexpected Prometheus answer: {error!r}") from error
    if math.isnan(value):
        raise NoData("NaN: no request in the window (no traffic)")
    return value


def _refusal(error: HttpResponseError) -> str | None:
    """The Prometheus API's own error text of a refused query (400/422 bad_data, 503 timeout), if it has one."""
    if error.response is None or error.status_code in (401, 403):
        return None
    try:
        body = json.loads(error.response.text())
    except ValueError:
        return None
    if not isinstance(body, dict) or not body.get("error"):
        return None
    kind = f" {body['errorType']}" if body.get("errorType") else ""
    return f"HTTP {error.status_code}{kind}: {body['error']}"


def _labels(metric: dict[str, str]) -> str:
    return "{" + ",".join(f'{name}="{escaped(value, chr(34))}"' for name, value in sorted(metric.items())) + "}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

