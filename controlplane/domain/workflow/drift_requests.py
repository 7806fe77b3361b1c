"""The requests of the drift loop's activities (``activities/drift.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.domain.wire import WireFields


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
class FindingRequest:
    """drift_start_remediation and drift_settle: act on one finding."""

    finding_id: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"findingId": self.finding_id, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FindingRequest:
        fields = WireFields(data)
        request = cls(fields.text("findingId"), fields.time("at"))
        fields.check()
        return request
