"""The scripted Metrics fake passes the same contract as the Azure Monitor adapter."""

from __future__ import annotations

import pytest

from controlplane.domain.runtime import MetricKind
from controlplane.testing.fakes import ScriptedMetrics
from tests.contracts.metrics import Known, MetricsContract


class TestScriptedMetrics(MetricsContract):
    @pytest.fixture
    def metrics(self) -> ScriptedMetrics:
        scripted = ScriptedMetrics()
        scripted.set("dev", "orders", cpu=42.5, queue=0.0, rps=12.0)
        scripted.set("dev", "billing", cpu=None, queue=None, rps=None)
        return scripted

    @pytest.fixture
    def known(self) -> Known:
        return "dev", "orders", {MetricKind.CPU: 42.5, MetricKind.QUEUE: 0.0, MetricKind.RPS: 12.0}

    @pytest.fixture
    def silent(self) -> tuple[str, str]:
        return "dev", "billing"

    @pytest.fixture
    def failing(self) -> tuple[str, str]:
        return "dev", "payments"  # never scripted: the fake's outage
