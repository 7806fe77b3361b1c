"""The HealthProbe contract: the HTTP probe and the scripted fake both pass it.

Subclasses provide ``probe`` (a HealthProbe) and ``revisions``: a mapping from a health status to the name
of a revision that the probe finds in that state, plus ``"missing"``: a revision with nothing to probe.
"""

from __future__ import annotations

from typing import Any

from controlplane.domain.health import HealthReport, HealthStatus


class HealthProbeContract:
    def test_a_healthy_revision_passes_the_gate(self, probe: Any, revisions: dict[str, str]) -> None:
        report = probe.probe("dev", "orders", revisions["Healthy"], "/health")
        assert isinstance(report, HealthReport)
        assert report.status is HealthStatus.HEALTHY and report.passed(allow_degraded=False)

    def test_degraded_passes_only_when_the_gate_allows_it(self, probe: Any, revisions: dict[str, str]) -> None:
        report = probe.probe("dev", "orders", revisions["Degraded"], "/health")
        assert report.status is HealthStatus.DEGRADED
        assert report.passed(allow_degraded=True) and not report.passed(allow_degraded=False)

    def test_an_unhealthy_revision_fails_with_a_summary(self, probe: Any, revisions: dict[str, str]) -> None:
        report = probe.probe("dev", "orders", revisions["Unhealthy"], "/health")
        assert report.status is HealthStatus.UNHEALTHY and not report.passed(allow_degraded=True)
        assert report.summary()

    def test_nothing_to_probe_is_an_unhealthy_report_never_an_error(
        self, probe: Any, revisions: dict[str, str]
    ) -> None:
        report = probe.probe("dev", "orders", revisions["missing"], "/health")
        assert report.status is HealthStatus.UNHEALTHY

    def test_a_report_round_trips_through_its_wire_form(self, probe: Any, revisions: dict[str, str]) -> None:
        report = probe.probe("dev", "orders", revisions["Degraded"], "/health")
        assert HealthReport.from_dict(report.to_dict()).status is report.status
