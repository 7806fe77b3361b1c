"""The scripted AnalysisProvider fake passes the same contract as the real providers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.domain.analysis import MetricQuery
from controlplane.testing.analysis import ScriptedAnalysis
from tests.contracts.analysis_provider import AnalysisProviderContract, Arranged, measure

QUERY = MetricQuery(
    metric="success",
    provider="router",
    target=None,
    environment="dev",
    service="api",
    revision="api-v2",
    window_seconds=30,
    builtin="requestSuccessRate",
)
CUSTOM = replace(
    QUERY, metric="queue-depth", provider="prometheus", builtin=None, query="max(queue{revision='{{ revision }}'})"
)


class TestScriptedAnalysis(AnalysisProviderContract):
    @pytest.fixture
    def analysis(self) -> ScriptedAnalysis:
        scripted = ScriptedAnalysis()
        scripted.script("api", "success", 0.8)
        scripted.script("api", "queue-depth", 12.0)
        scripted.script("api", "latency", None)
        return scripted

    @pytest.fixture
    def arranged(self) -> Arranged:
        silent = replace(QUERY, metric="latency", builtin="requestLatency", percentile=95)
        unknown = replace(QUERY, service="payments", revision="payments-v1")
        return Arranged(measured={QUERY: 0.8, CUSTOM: 12.0}, no_data=[silent, unknown])


def test_an_outage_is_none_with_an_error_in_the_same_shape() -> None:
    scripted = ScriptedAnalysis()
    scripted.script("api", "success", 0.8)
    scripted.down = True
    measurement = measure(scripted, QUERY)
    assert measurement.value is None and "scripted outage" in (measurement.error or "")
