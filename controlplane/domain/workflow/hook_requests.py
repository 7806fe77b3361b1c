"""The request of the ``call_webhook`` activity (``activities/hooks.py``): one webhook call of a rollout.

On the wire: the stamp (``DeploymentRequest``), the service's ``target``, then ``call`` (``HookCall.to_dict``),
``gate`` (the gate's number among the service's gates, from 1; null when the call is not at a gate) and
``stepText`` (what the rollout was doing: a gate's step text, "before the first rollout step", ...; not ``step``,
which the other requests and the activities' tracing use for a rollout step object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controlplane.domain.hooks import HookCall
from controlplane.domain.wire import WireFields
from controlplane.domain.workflow.deployment_requests import TargetRequest


@dataclass(frozen=True)
class HookRequest(TargetRequest):
    """call_webhook: make ``call`` for the target's service at ``gate``/``step`` of its rollout."""

    call: HookCall
    gate: int | None
    step: str

    @property
    def where(self) -> dict[str, Any]:
        """Where in the rollout the call happened, with the keys the gate events use (``gate_events.gate_of``)."""
        return {
            "service": self.target.service,
            "revision": self.target.new_revision,
            "gate": self.gate,
            "step": self.step,
        }

    def _own(self) -> dict[str, Any]:
        return {**super()._own(), "call": self.call.to_dict(), "gate": self.gate, "stepText": self.step}

    @classmethod
    def _read_own(cls, fields: WireFields) -> dict[str, Any]:
        gate = fields.parsed("gate", _gate_number, "gate number or null") if fields.has("gate") else None
        return {
            **super()._read_own(fields),
            "call": fields.parsed("call", HookCall.from_dict, "webhook call"),
            "gate": gate,
            "step": fields.text("stepText"),
        }


def _gate_number(wire: object) -> int | None:
    if wire is None:
        return None
    if isinstance(wire, bool) or not isinstance(wire, int) or wire < 1:
        raise ValueError("a gate number from 1")
    return wire
