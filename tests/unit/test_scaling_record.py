"""The scaling loop's stored record: typed in memory, the same JSON keys in storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.domain.scaling_record import ScalingRecord

AT = "2026-11-26T12:00:00.000000Z"
CHANGE = {
    "revision": "orders--abc",
    "from": 2,
    "to": 4,
    "rule": "cpu",
    "reason": "cpu 100.0 > target 50",
    "metrics": {"cpu": 100.0},
    "at": AT,
    "eventId": "5f0c6d1e-0000-5000-8000-000000000001",
}
TRACE = {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "causationId": None}
STORED: dict[str, Any] = {
    "state": {
        "recommendations": [[AT, 4]],
        "lastChangeAt": AT,
        "violationSince": None,
        "violationReported": False,
    },
    "pending": {**CHANGE, "leaseUntil": "2026-11-26T12:01:00.000000Z", **TRACE},
    "last": {"at": AT, "replicas": 4, "reason": "cpu 100.0 > target 50"},
    "desired": 4,
    "lastApplied": {**CHANGE, **TRACE},
}


def test_a_stored_row_reads_back_typed_and_writes_the_same_json() -> None:
    record = ScalingRecord.from_dict(STORED)

    assert record.pending is not None and record.pending.to_replicas == 4
    assert record.pending.lease_until == datetime(2026, 11, 26, 12, 1, tzinfo=UTC)
    assert record.last_applied is not None and record.last_applied.lease_until is None
    assert record.to_dict() == STORED


def test_a_change_is_leased_until_its_lease_runs_out_and_a_row_without_a_lease_is_not() -> None:
    pending = ScalingRecord.from_dict(STORED).pending
    assert pending is not None
    assert pending.leased(pending.at) and not pending.leased(pending.at + timedelta(minutes=1))
    written_before_leases = {key: value for key, value in STORED["pending"].items() if key != "leaseUntil"}
    unleased = ScalingRecord.from_dict({"pending": written_before_leases}).pending
    assert unleased is not None and not unleased.leased(pending.at)


def test_a_service_never_evaluated_has_the_default_record_and_is_not_asleep() -> None:
    record = ScalingRecord.from_dict({})
    assert record == ScalingRecord() and not record.asleep
    assert ScalingRecord.from_dict({**STORED, "last": {"at": AT, "replicas": 0, "reason": "idle"}}).asleep
