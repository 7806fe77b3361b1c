"""The scripted HealthProbe fake passes the HealthProbe contract its HTTP adapter passes."""

from __future__ import annotations

import pytest

from controlplane.domain.health import HealthStatus
from controlplane.testing.fakes import ScriptedHealthProbe
from tests.contracts.health_probe import HealthProbeContract


class TestScriptedHealthProbe(HealthProbeContract):
    @pytest.fixture
    def probe(self) -> ScriptedHealthProbe:
        script = {"orders-slow": HealthStatus.DEGRADED, "orders-bad": HealthStatus.UNHEALTHY, "orders-gone": None}
        return ScriptedHealthProbe(script)

    @pytest.fixture
    def revisions(self) -> dict[str, str]:
        return {"Healthy": "orders-ok", "Degraded": "orders-slow", "Unhealthy": "orders-bad", "missing": "orders-gone"}
