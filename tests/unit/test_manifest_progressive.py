"""The manifest's progressive-delivery parts: analysis, webhooks and dependsOn; every bad field named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controlplane.domain.analysis import MetricQuery
from controlplane.domain.manifest import parse_release
from controlplane.errors import InvalidManifest
from tests.builders import release_document

ROUTER_METRIC = {"name": "success-rate", "builtin": "requestSuccessRate", "threshold": {"min": 0.95}}


def document(**spec: Any) -> dict[str, Any]:
    base = release_document(services=("orders", "payments"))
    base["spec"].update(copy.deepcopy(spec))
    return base


def errors_of(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidManifest) as caught:
        parse_release(doc)
    return {error.path: error.reason for error in caught.value.errors}


def test_an_analysis_fills_its_defaults_and_round_trips() -> None:
    release = parse_release(document(analysis={"provider": {"type": "router"}, "metrics": [ROUTER_METRIC]}))
    analysis = release.analysis_of("orders")
    assert analysis is not None and analysis.interval_seconds == 30
    metric = analysis.metrics[0]
    assert (metric.count, metric.failure_limit, metric.inconclusive_limit) == (3, 0, 0)
    assert analysis.provider_of(metric).type == "router" and analysis.interval_of(metric) == 30
    assert analysis.inconclusive.timeout_seconds is None and analysis.inconclusive.on_timeout == "rollback"
    assert parse_release(release.to_dict()) == release


def test_a_service_analysis_replaces_the_release_one() -> None:
    doc = document(analysis={"provider": {"type": "router"}, "metrics": [ROUTER_METRIC]})
    own = {"provider": {"type": "router"}, "intervalSeconds": 5, "metrics": [{**ROUTER_METRIC, "name": "own"}]}
    doc["spec"]["services"][1]["analysis"] = own
    release = parse_release(doc)
    assert [m.name for m in release.analysis_of("orders").metrics] == ["success-rate"]  # type: ignore[union-attr]
    assert [m.name for m in release.analysis_of("payments").metrics] == ["own"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("metric", "path", "words"),
    [
        ({"name": "m", "threshold": {"min": 1}}, "metrics[0]", "exactly one of builtin"),
        ({**ROUTER_METRIC, "query": "AppRequests"}, "metrics[0]", "exactly one of builtin"),
        ({**ROUTER_METRIC, "percentile": 99}, "metrics[0].percentile", "only for builtin requestLatency"),
        ({**ROUTER_METRIC, "threshold": {}}, "metrics[0].threshold", "min, max or both"),
        ({**ROUTER_METRIC, "threshold": {"min": 2, "max": 1}}, "metrics[0].threshold.max", "must be >= min"),
        ({**ROUTER_METRIC, "count": 2, "failureLimit": 2}, "metrics[0].failureLimit", "could never fail"),
        ({**ROUTER_METRIC, "count": 0}, "metrics[0].count", ""),
        ({**ROUTER_METRIC, "intervalSeconds": 0}, "metrics[0].intervalSeconds", ""),
        ({**ROUTER_METRIC, "builtin": "errors"}, "metrics[0].builtin", ""),
    ],
)
def test_a_bad_metric_is_named(metric: dict[str, Any], path: str, words: str) -> None:
    found = errors_of(document(analysis={"provider": {"type": "router"}, "metrics": [metric]}))
    assert f"spec.analysis.{path}" in found, found
    assert words in found[f"spec.analysis.{path}"]


def test_a_custom_query_needs_a_query_language_and_known_placeholders() -> None:
    on_router = {"name": "q", "query": "rate(x[{{ window }}])", "threshold": {"max": 1}}
    found = errors_of(document(analysis={"provider": {"type": "router"}, "metrics": [on_router]}))
    assert "router answers builtin metrics only" in found["spec.analysis.metrics[0].query"]
    prometheus = {"type": "prometheus", "endpoint": "https://shop.westeurope.prometheus.monitor.azure.com"}
    unknown = {**on_router, "query": "rate(x{pod='{{pod}}'}[{{ window }}])"}
    found = errors_of(document(analysis={"provider": prometheus, "metrics": [unknown]}))
    assert "unknown placeholder {{ pod }}" in found["spec.analysis.metrics[0].query"]
    fine = {**on_router, "query": 'sum(rate(x{revision="{{ revision }}"}[{{window}}]))'}
    release = parse_release(document(analysis={"provider": prometheus, "metrics": [fine]}))
    analysis = release.analysis_of("orders")
    assert analysis is not None
    query = MetricQuery.of(analysis, analysis.metrics[0], "dev", "orders", "orders-r2")
    assert query.filled() == 'sum(rate(x{revision="orders-r2"}[30s]))'
    assert query.provider == "prometheus" and query.target == prometheus["endpoint"]


@pytest.mark.parametrize(
    ("provider", "path", "words"),
    [
        ({"type": "applicationInsights"}, "workspaceId", "needs the Log Analytics workspace id"),
        ({"type": "prometheus"}, "endpoint", "needs the query endpoint"),
        ({"type": "router", "endpoint": "https://x.example"}, "endpoint", "only for provider prometheus"),
        ({"type": "prometheus", "endpoint": "http://prom.example:9090"}, "endpoint", "must be https"),
        ({"type": "applicationInsights", "workspaceId": "not-a-guid"}, "workspaceId", ""),
    ],
)
def test_a_bad_provider_is_named(provider: dict[str, Any], path: str, words: str) -> None:
    found = errors_of(document(analysis={"provider": provider, "metrics": [ROUTER_METRIC]}))
    assert f"spec.analysis.provider.{path}" in found, found
    assert words in found[f"spec.analysis.provider.{path}"]


def test_loopback_prometheus_may_be_plain_http_and_metric_without_provider_is_named() -> None:
    local = {"type": "prometheus", "endpoint": "http://127.0.0.1:9090"}
    assert parse_release(document(analysis={"provider": local, "metrics": [ROUTER_METRIC]}))
    found = errors_of(document(analysis={"metrics": [ROUTER_METRIC, {**ROUTER_METRIC, "name": "x"}]}))
    assert "no provider" in found["spec.analysis.metrics[0].provider"]
    assert "no provider" in found["spec.analysis.metrics[1].provider"]


def test_webhooks_are_named_and_checked() -> None:
    hooks = [
        {
            "name": "load",
            "type": "rollout",
            "url": "https://load.example/run",
            "signingSecret": {"setting": "HOOK_KEY"},
        },
        {"name": "load", "type": "smoke", "url": "ftp://x", "services": ["nope"]},
    ]
    found = errors_of(document(webhooks=hooks))
    assert 'duplicate webhook name "load"' in found["spec.webhooks[1].name"]
    assert "spec.webhooks[1].type" in found and "spec.webhooks[1].url" in found
    assert 'no service "nope"' in found["spec.webhooks[1].services[0]"]
    release = parse_release(document(webhooks=hooks[:1]))
    assert [hook.name for hook in release.webhooks_of("payments", "rollout")] == ["load"]
    assert release.webhooks_of("orders", "pre-rollout") == []


def test_depends_on_refuses_unknown_names_itself_and_cycles_naming_the_services() -> None:
    doc = document()
    doc["spec"]["services"][0]["dependsOn"] = ["orders", "ghost"]
    found = errors_of(doc)
    assert "cannot depend on itself" in found["spec.services[0].dependsOn[0]"]
    assert 'no service "ghost"' in found["spec.services[0].dependsOn[1]"]
    doc = document()
    doc["spec"]["services"].append({"name": "stock", "image": "example.azurecr.io/stock:1.0.0"})
    doc["spec"]["services"][0]["dependsOn"] = ["payments"]
    doc["spec"]["services"][1]["dependsOn"] = ["stock"]
    doc["spec"]["services"][2]["dependsOn"] = ["orders"]
    found = errors_of(doc)
    assert found["spec.services[0].dependsOn"].startswith("dependency cycle: orders -> payments -> stock -> orders")
    assert "orders, payments, stock" in found["spec.services[0].dependsOn"]


def test_every_failing_field_is_listed_at_once() -> None:
    doc = document(analysis={"metrics": [{**ROUTER_METRIC, "threshold": {}}]}, webhooks=[{"name": "x"}])
    doc["spec"]["services"][0]["image"] = "NOT AN IMAGE"
    doc["spec"]["services"][0]["dependsOn"] = ["payments"]
    doc["spec"]["services"][1]["dependsOn"] = ["orders"]
    found = errors_of(doc)
    for path in (
        "spec.services[0].image",
        "spec.services[0].dependsOn",
        "spec.analysis.metrics[0].provider",
        "spec.analysis.metrics[0].threshold",
        "spec.webhooks[0].type",
        "spec.webhooks[0].url",
    ):
        assert path in found, (path, found)
