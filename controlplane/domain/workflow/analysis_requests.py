"""The requests of the analysis activities (``activities/analysis.py``), stamped like every deployment request
(``deployment_requests.DeploymentRequest``): the stamp's keys first, then the activity's own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.domain import gate_events
from controlplane.domain.wire import WireFields
from controlplane.domain.workflow.deployment_requests import TargetRequest


@dataclass(frozen=True)
class MeasureRequest(TargetRequest):
    """measure_metric: measurement ``number`` (from 1) of ``metric`` on the target's new revision, at the
    service's gate ``gate`` (from 1) whose ``step`` says what it verifies (``gateStep`` on the wire: ``step`` is a
    rollout step's object in the other requests, and the activity span reads it as one)."""

    gate: int
    step: str
    metric: str
    number: int
    due: datetime | None = None  # when set, the activity waits for it (a service's segment has no timers of its own)

    def where(self) -> dict[str, Any]:
        """The gate as the gate events name it."""
        return gate_events.gate_of(self.target.service, self.target.new_revision, self.gate, self.step)

    def _own(self) -> dict[str, Any]:
        own = {"gate": self.gate, "gateStep": self.step, "metric": self.metric, "number": self.number}
        due = {"due": self.due.isoformat()} if self.due is not None else {}
        return {**super()._own(), **own, **due}

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        return {
            **super()._read_own(fields),
            "gate": fields.integer("gate"),
            "step": fields.text("gateStep"),
            "metric": fields.text("metric"),
            "number": fields.integer("number"),
            "due": fields.time("due") if fields.has("due") else None,
        }
