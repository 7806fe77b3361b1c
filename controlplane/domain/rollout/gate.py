"""The health gate's decision: consecutive probe outcomes against the gate's thresholds.

A gate passes after ``successThreshold`` consecutive passing probes and fails after ``failureThreshold``
consecutive failing ones; any other outcome resets the opposite count. (The progress deadline is the
orchestrator's: it owns the clock.) Worked examples with successThreshold=2, failureThreshold=3:

    probes (pass/fail) | successes, failures | verdict
    ------------------ | ------------------- | -------
    P                  | 1, 0                | probing
    P P                | 2, 0                | passed
    F F P              | 1, 0                | probing
    F P F F            | 0, 2                | probing
    F F F              | 0, 3                | failed
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from controlplane.domain.health import HealthReport
from controlplane.domain.manifest import HealthGate


class GateVerdict(StrEnum):
    PROBING = "probing"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class GateTally:
    """Consecutive passing and failing probes of one gate so far."""

    successes: int = 0
    failures: int = 0

    def after(self, report: HealthReport, gate: HealthGate) -> GateTally:
        """The tally after one more probe; Degraded passes only when the gate allows it."""
        if report.passed(gate.allow_degraded):
            return GateTally(self.successes + 1, 0)
        return GateTally(0, self.failures + 1)

    def verdict(self, gate: HealthGate) -> GateVerdict:
        if self.successes >= gate.success_threshold:
            return GateVerdict.PASSED
        if self.failures >= gate.failure_threshold:
            return GateVerdict.FAILED
        return GateVerdict.PROBING
