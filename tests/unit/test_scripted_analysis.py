"""The scripted AnalysisProvider fake passes the same contract as the router provider."""

from __future__ import annotations

import pytest

from controlplane.domain.analysis import MetricQuery
from controlplane.testing.analysis import ScriptedAnalysis
from tests.contracts.analysis_contract_local import AnalysisContract, Arranged, check_shape

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


class TestScriptedAnalysis(AnalysisContract):
    @pytest.fixture
    def analysis(self) -> ScriptedAnalysis:
        scripted = ScriptedAnalysis()
        scripted.script("api", "success", 0.8)
        scripted.script("api", "latency", None)
        return scripted

    @pytest.fixture
    def arranged(self) -> Arranged:
        silent = MetricQuery(**{**QUERY.to_dict(), "metric": "latency", "builtin": "requestLatency", "percentile": 95})
        unknown = MetricQuery(**{**QUERY.to_dict(), "service": "payments", "revision": "payments-v1"})
        return Arranged(measured=QUERY, value=0.8, silent=silent, unknown=unknown)


def test_an_outage_is_none_with_an_error_in_the_same_shape() -> None:
    scripted = ScriptedAnalysis()
    scripted.script("api", "success", 0.8)
    scripted.down = True
    measurement = scripted.measure(QUERY)
    check_shape(measurement)
    assert measurement.value is None and "scripted outage" in (measurement.error or "")
