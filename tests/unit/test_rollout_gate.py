"""The health gate's decision (domain/rollout/gate.py) and the one place that chooses a rollout plan."""

from __future__ import annotations

import pytest

from controlplane.domain.health import HealthReport, HealthStatus
from controlplane.domain.manifest import HealthGate
from controlplane.domain.manifest.strategy import Canary
from controlplane.domain.rollout import ScaleRevision, plan_rollout
from controlplane.domain.rollout.fixed_size import fixed_size
from controlplane.domain.rollout.gate import GateTally, GateVerdict

GATE = HealthGate(success_threshold=2, failure_threshold=3)
PASS = HealthReport(HealthStatus.HEALTHY)
FAIL = HealthReport(HealthStatus.UNHEALTHY)


def tally_of(outcomes: str, gate: HealthGate = GATE) -> GateTally:
    tally = GateTally()
    for outcome in outcomes:
        tally = tally.after(PASS if outcome == "P" else FAIL, gate)
    return tally


@pytest.mark.parametrize(
    ("outcomes", "counts", "verdict"),
    [
        ("P", (1, 0), GateVerdict.PROBING),
        ("PP", (2, 0), GateVerdict.PASSED),
        ("FFP", (1, 0), GateVerdict.PROBING),
        ("FPFF", (0, 2), GateVerdict.PROBING),
        ("FFF", (0, 3), GateVerdict.FAILED),
    ],
)
def test_the_gate_counts_consecutive_outcomes_as_its_worked_examples_say(outcomes, counts, verdict) -> None:
    tally = tally_of(outcomes)
    assert (tally.successes, tally.failures) == counts
    assert tally.verdict(GATE) is verdict


def test_degraded_passes_only_a_gate_that_allows_it() -> None:
    degraded = HealthReport(HealthStatus.DEGRADED)
    assert GateTally().after(degraded, GATE) == GateTally(0, 1)
    lenient = HealthGate(success_threshold=1, allow_degraded=True)
    assert GateTally().after(degraded, lenient).verdict(lenient) is GateVerdict.PASSED


def test_container_apps_gets_the_fixed_size_plan_and_other_computes_the_strategys_own() -> None:
    canary = Canary.model_validate({"type": "Canary", "steps": [{"weight": 25}, {"weight": 50}]})
    plain = plan_rollout(canary, 4, 3)
    assert plan_rollout(canary, 4, 3, "aks") == plan_rollout(canary, 4, 3, "local") == plain
    fixed = plan_rollout(canary, 4, 3, "containerapps")
    assert fixed == fixed_size(plain, 4) != plain
    assert next(s for s in fixed if isinstance(s, ScaleRevision) and s.revision == "new") == ScaleRevision("new", 4)
