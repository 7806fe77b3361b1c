"""RouterAnalysis on a router that never started: what it refuses, and that reading allocates nothing.

Measurements of real traffic are in tests/integration/test_router_analysis.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controlplane.adapters.local.analysis import RouterAnalysis, describe
from controlplane.adapters.local.router import LocalRouter, routed_url
from controlplane.bootstrap.local import local_analysis
from controlplane.domain.analysis import MetricQuery
from controlplane.errors import NotFound

SUCCESS = MetricQuery("success", "router", None, "dev", "api", "api-x", 30, builtin="requestSuccessRate")
LATENCY = replace(SUCCESS, metric="latency", builtin="requestLatency", percentile=99.0)


@pytest.fixture
def router(tmp_path: Path) -> LocalRouter:
    return LocalRouter(tmp_path / "router.json")  # built, not started: nothing listens


def test_the_query_text_says_what_is_read() -> None:
    assert describe(SUCCESS) == "router dev/api: 1 - 5xx/requests of revision api-x over 30s"
    latency = "router dev/api: p99 (nearest rank) of request duration in ms of revision api-x over 30s"
    assert describe(LATENCY) == latency
    assert describe(replace(LATENCY, percentile=None)).startswith("router dev/api: p95 ")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (replace(SUCCESS, builtin=None, query="requests | count"), "builtin metrics only"),
        (replace(SUCCESS, provider="prometheus"), "provider prometheus"),
        (replace(SUCCESS, builtin="requestThroughput"), "unknown builtin 'requestThroughput'"),
        (replace(SUCCESS, window_seconds=0), "window of 0s"),
        (replace(SUCCESS, window_seconds=3601), "keeps 3600s"),
        (replace(LATENCY, percentile=0.0), "percentile 0 out of range"),
        (replace(LATENCY, percentile=101.0), "percentile 101 out of range"),
    ],
)
def test_what_the_router_cannot_answer_is_none_with_the_reason(
    router: LocalRouter, query: MetricQuery, reason: str
) -> None:
    measurement = RouterAnalysis(router).measure(query)
    assert measurement.value is None and reason in (measurement.error or ""), measurement
    assert measurement.query == describe(query)


def test_an_unknown_service_is_no_data_and_gets_no_route(router: LocalRouter, tmp_path: Path) -> None:
    measurement = RouterAnalysis(router).measure(SUCCESS)

    assert measurement.value is None
    assert "api-x" in (measurement.error or "") and "dev/api" in (measurement.error or "")
    with pytest.raises(NotFound):
        routed_url(tmp_path / "router.json", "dev", "api")  # stats() would have allocated ports for it
    assert router.weights("dev", "api") == {}


def test_the_local_host_measures_router_queries_and_says_why_azure_ones_are_not(router: LocalRouter) -> None:
    analysis = local_analysis(router)

    routed = analysis.measure(SUCCESS)
    azure_only = analysis.measure(replace(SUCCESS, provider="applicationInsights", target="0" * 8))

    assert routed.query == describe(SUCCESS) and "api-x" in (routed.error or "")
    assert azure_only.value is None and "only in Azure" in (azure_only.error or "")
