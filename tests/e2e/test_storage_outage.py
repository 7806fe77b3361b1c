"""Storage away and back in the middle of a deployment: clients get 503 + Retry-After (never a 500, never
storage text), the host's engine, bus and timers live through it, and the deployment ends once, after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.fault_cases import run_storage_outage

pytestmark = pytest.mark.slow  # waits in real time for the deployment and the outage


def test_a_deployment_resumes_after_storage_comes_back_and_clients_get_503_meanwhile(tmp_path: Path) -> None:
    outcome = run_storage_outage(tmp_path)
    assert outcome.stopped_in == "HealthGating"
    for status, headers, text in outcome.answers:
        assert status == 503, text
        assert headers["Retry-After"].isdigit()
        assert headers["Content-Type"].startswith("application/problem+json")
        assert json.loads(text)["status"] == 503
    assert outcome.leaked == []
    assert outcome.host_survived
    assert outcome.timers_after and outcome.deliveries_after, "timers and the bus work again"
    assert outcome.state == "Completed"
    assert outcome.terminal_events == 1
    assert outcome.duplicate_event_ids == 0
