"""The scaling loop's stored record: typed in memory, the same JSON keys in storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.domain.scaling_record import HISTORY_LIMIT, Evaluation, ScalingRecord

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
    "history": [
        {
            "at": AT,
            "current": 2,
            "replicas": 4,
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": {"cpu": 100.0, "rps": None},
            "rule": "cpu",
            "reason": "cpu 100.0 > target 50",
        }
    ],
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


def test_a_row_written_before_the_history_reads_with_an_empty_one() -> None:
    before = {key: value for key, value in STORED.items() if key != "history"}
    assert ScalingRecord.from_dict(before).history == ()


def test_the_history_keeps_the_newest_evaluations_oldest_first() -> None:
    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    record = ScalingRecord()
    for minute in range(HISTORY_LIMIT + 5):
        at = start + timedelta(minutes=minute)
        record = ScalingRecord(history=record.with_evaluation(Evaluation(at, 2, 2, 1, 10, {"cpu": 50.0}, None, "held")))
    assert len(record.history) == HISTORY_LIMIT
    assert record.history[0].at == start + timedelta(minutes=5)
    assert record.history[-1].at == start + timedelta(minutes=HISTORY_LIMIT + 4)
