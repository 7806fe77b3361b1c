"""The input and output of a service's rollout sub-orchestration (``orchestrators.service_rollout``): one segment of
the service's plan (``controlplane.domain.rollout.segments``), and what came of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controlplane.domain.rollout import Step
from controlplane.domain.rollout.target import Target
from controlplane.domain.wire import WireFields
from controlplane.domain.workflow.deployment_requests import Gating, read_steps
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.errors import first_line


@dataclass(frozen=True)
class SegmentStart:
    """Run ``steps`` of ``target``'s plan for the deployment ``start`` runs: its gates numbered from
    ``first_gate``, each failing once ``deadline`` (the progress deadline, moved on by the time the service spent
    in metric analysis and holds) has passed; ``pre_rollout``: call the service's pre-rollout webhooks first;
    gate ``gating_gate`` (the service's last, in the release's last wave) records HealthGating (``gating``)."""

    start: DeploymentStart
    target: Target
    steps: tuple[Step, ...]
    first_gate: int
    deadline: datetime
    pre_rollout: bool = False
    gating_gate: int = 0  # the gate that records HealthGating (``gating``) before it probes; 0: none
    gating: Gating | None = None

    def instance_id(self, number: int) -> str:
        """The sub-orchestration's instance id: the deployment's, the service and the segment's number (from 1),
        as the Durable extension names sub-orchestrations (``<parent>:<n>``) but readable in the portal."""
        return f"{self.start.deployment_id}:{self.target.service}:{number}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.to_dict(),
            "target": self.target.to_dict(),
            "steps": [step.to_dict() for step in self.steps],
            "firstGate": self.first_gate,
            "deadline": self.deadline.isoformat(),
            "preRollout": self.pre_rollout,
            **({"gatingGate": self.gating_gate, "gating": self.gating.to_dict()} if self.gating else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentStart:
        """The input ``to_dict`` wrote; InvalidInput naming each bad field."""
        fields = WireFields(data)
        segment = cls(
            start=fields.parsed("start", DeploymentStart.from_dict, "deployment start"),  # type: ignore[arg-type]
            target=Target.read(fields.nested("target")),
            steps=fields.parsed("steps", read_steps, "list of rollout steps") or (),
            first_gate=fields.integer("firstGate"),
            deadline=fields.time("deadline"),
            pre_rollout=fields.boolean("preRollout", False),
            gating_gate=fields.integer("gatingGate") if fields.has("gatingGate") else 0,
            gating=Gating.read(fields.nested("gating")) if fields.has("gating") else None,
        )
        fields.check()
        return segment


@dataclass(frozen=True)
class GroupStart:
    """Segments of several services to run in parallel under one sub-orchestration (orchestrators.service_group),
    each with its instance number (``SegmentStart.instance_id``); the deployment's start is on the wire once."""

    start: DeploymentStart
    segments: tuple[tuple[SegmentStart, int], ...]

    def instance_id(self, number: int) -> str:
        return f"{self.start.deployment_id}:group:{number}"

    def to_dict(self) -> dict[str, Any]:
        segments = [{**_without_start(segment), "number": number} for segment, number in self.segments]
        return {"start": self.start.to_dict(), "segments": segments}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupStart:
        fields = WireFields(data)
        start = fields.mapping("start")
        fields.check()
        segments = fields.parsed("segments", lambda items: _read_segments(items, start), "list of segments")
        fields.check()
        return cls(DeploymentStart.from_dict(start), segments or ())


def _read_segments(raw: object, start: Mapping[str, Any]) -> tuple[tuple[SegmentStart, int], ...]:
    if not isinstance(raw, list):
        raise ValueError("a JSON array required")
    return tuple((SegmentStart.from_dict({**item, "start": start}), int(item["number"])) for item in raw)


def _without_start(segment: SegmentStart) -> dict[str, Any]:
    wire = segment.to_dict()
    del wire["start"]
    return wire


@dataclass(frozen=True)
class HeldGate:
    """A gate whose metric analysis was inconclusive: the release orchestration holds it for an operator."""

    where: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class SegmentOutcome:
    """How a segment ended: ``failure`` (the reason to roll the release back), or passed with ``held`` gates to
    hold for an operator (at most the last one: a hold ends the segment); ``gates``: the last gate number it
    reached; ``analysing_seconds``: time spent in metric analysis (not progress-deadline time)."""

    failure: str | None = None
    held: tuple[HeldGate, ...] = field(default=())
    gates: int = 0
    analysing_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "failure": self.failure,
            "held": [{"where": held.where, "reason": held.reason} for held in self.held],
            "gates": self.gates,
            "analysingSeconds": self.analysing_seconds,
        }

    @classmethod
    def answered(cls, result: object, service: str) -> SegmentOutcome:
        """What a segment orchestration of ``service`` answered (its output), or a failure when it failed outright
        (``result`` its exception: it never does by itself)."""
        if isinstance(result, Mapping):
            return cls.from_dict(result)
        reason = first_line(result) if isinstance(result, BaseException) else "no outcome"
        return cls(f"rollout of {service} failed: {reason}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentOutcome:
        fields = WireFields(data)
        held = tuple(HeldGate(dict(item["where"]), str(item["reason"])) for item in data.get("held") or [])
        outcome = cls(
            failure=fields.optional_text("failure"),
            held=held,
            gates=fields.integer("gates"),
            analysing_seconds=float(data.get("analysingSeconds") or 0),
        )
        fields.check()
        return outcome
