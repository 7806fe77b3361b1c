"""The drift run's wire shapes: its input from one generation to the next, and its activities' requests and
answers (``activities/drift.py``).

A drift run takes the approved findings in batches, oldest first (the Findings listing's order): each execution
of the orchestration takes one batch, and while more remain it continues as new with a ``DriftRun`` naming where
the next batch starts and what the run has done so far (counts only, so the input stays small however many
findings there are).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controlplane.domain.listing_pages import FindingPosition
from controlplane.domain.wire import WireFields
from controlplane.errors import FieldError

_POSITION = "a findings continuation"


def _position(fields: WireFields, key: str) -> FindingPosition | None:
    return fields.parsed(key, FindingPosition.from_token, _POSITION) if fields.has(key) else None


def _wired(position: FindingPosition | None) -> dict[str, Any]:
    return {"next": position.token()} if position else {}


@dataclass(frozen=True)
class ScanRequest:
    """drift_scan: one scan at the orchestration's step time."""

    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScanRequest:
        fields = WireFields(data)
        request = cls(fields.time("at"))
        fields.check()
        return request


@dataclass(frozen=True)
class BatchRequest:
    """drift_next_batch: the approved findings from ``start`` on (the position a batch handed out)."""

    start: FindingPosition

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.token()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchRequest:
        fields = WireFields(data)
        start = fields.parsed("start", FindingPosition.from_token, _POSITION)
        fields.check()
        assert start is not None  # check() raised otherwise
        return cls(start)


@dataclass(frozen=True)
class ApprovedBatch:
    """drift_scan and drift_next_batch answer: approved finding ids to take now, oldest first, and where the
    next batch starts (None: this is the last)."""

    finding_ids: tuple[str, ...]
    next: FindingPosition | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"findingIds": list(self.finding_ids), **_wired(self.next)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApprovedBatch:
        fields = WireFields(data)
        batch = cls(tuple(fields.string_list("findingIds")), _position(fields, "next"))
        fields.check()
        return batch


@dataclass(frozen=True)
class FindingsRequest:
    """drift_start_remediations and drift_settle_findings: act on a batch of findings, each on its own."""

    finding_ids: tuple[str, ...]
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"findingIds": list(self.finding_ids), "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FindingsRequest:
        fields = WireFields(data)
        request = cls(tuple(fields.string_list("findingIds")), fields.time("at"))
        fields.check()
        return request


@dataclass(frozen=True)
class DriftRun:
    """Where a drift run is: which execution of the orchestration (``generation``, 1 for the one the timer or
    the API started), where its next batch starts (None for the first: the scan decides), how many approved
    findings the earlier executions took and how their remedies ended (status -> count)."""

    generation: int = 1
    start: FindingPosition | None = None
    taken: int = 0
    outcomes: Mapping[str, int] = field(default_factory=dict)

    def following(self, batch: Sequence[str], outcomes: Mapping[str, str], start: FindingPosition) -> DriftRun:
        """The input of the next execution, once this one took ``batch`` and settled ``outcomes``."""
        counts = Counter(self.outcomes) + Counter(outcomes.values())
        return DriftRun(self.generation + 1, start, self.taken + len(batch), dict(counts))

    def to_dict(self) -> dict[str, Any]:
        run = {"generation": self.generation, "taken": self.taken, "outcomes": dict(self.outcomes)}
        return {**run, "start": self.start.token()} if self.start else run

    @classmethod
    def from_input(cls, data: Mapping[str, Any] | None) -> DriftRun:
        """The orchestration's input: None when the timer or the API started the run."""
        if data is None:
            return cls()
        fields = WireFields(data)
        run = cls(fields.integer("generation"), _position(fields, "start"), fields.integer("taken"))
        counts = fields.mapping("outcomes")
        for status, count in counts.items():
            if not isinstance(count, int) or isinstance(count, bool):
                fields.errors.append(FieldError(f"outcomes.{status}", f"integer required (got {count!r})"))
        fields.check()
        return DriftRun(run.generation, run.start, run.taken, counts)
