"""Timer schedule status persisted in Table storage on a real Azurite, across scheduler restarts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from funchost.azurite import Azurite
from funchost.functions import TIMER, FunctionEntry
from funchost.storage.azure_tables import AzureTables
from funchost.timers import STATUS_PARTITION, STATUS_TABLE, TimerInfo, TimerScheduler

pytestmark = pytest.mark.azurite


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _entry(name: str) -> FunctionEntry:
    trigger = {"direction": "IN", "type": TIMER, "name": "timer", "schedule": "0 */5 * * * *"}
    return FunctionEntry(name=name, trigger_type=TIMER, trigger=trigger, inputs=(), handler=lambda timer: None)


def _tables(azurite: Azurite, prefix: str) -> AzureTables:
    return AzureTables(TableServiceClient.from_connection_string(azurite.connection_string), prefix)


def _scheduler(azurite: Azurite, prefix: str, now: datetime, calls: list[tuple[str, TimerInfo]]) -> TimerScheduler:
    return TimerScheduler(
        [_entry("drift_scan")],
        lambda entry, info: calls.append((entry.name, info)),
        _tables(azurite, prefix),
        lambda: now,
        {},
    )


def test_a_restarted_scheduler_reads_the_stored_status_and_fires_past_due(azurite: Azurite, table_prefix: str) -> None:
    first_calls: list[tuple[str, TimerInfo]] = []
    first = _scheduler(azurite, table_prefix, utc(2025, 1, 1, 0, 2), first_calls)
    assert first.run_due(utc(2025, 1, 1, 0, 5)) == ["drift_scan"]
    stored = _tables(azurite, table_prefix).get(STATUS_TABLE, STATUS_PARTITION, "drift_scan").body
    assert stored == {
        "last": "2025-01-01T00:05:00+00:00",
        "next": "2025-01-01T00:10:00+00:00",
        "lastUpdated": "2025-01-01T00:05:00+00:00",
    }

    # The host was down from 00:05 to 00:23: the 00:10 occurrence (and those after it) were missed.
    calls: list[tuple[str, TimerInfo]] = []
    restarted = _scheduler(azurite, table_prefix, utc(2025, 1, 1, 0, 23), calls)
    assert restarted.run_due(utc(2025, 1, 1, 0, 23)) == ["drift_scan"]

    [(name, info)] = calls
    assert name == "drift_scan"
    assert info.past_due is True
    assert info.to_request().past_due is True
    assert info.schedule_status is not None
    assert info.schedule_status.next == utc(2025, 1, 1, 0, 10)
    assert restarted.next_due() == utc(2025, 1, 1, 0, 25)
    after = _tables(azurite, table_prefix).get(STATUS_TABLE, STATUS_PARTITION, "drift_scan").body
    assert after["last"] == "2025-01-01T00:23:00+00:00"
    assert after["next"] == "2025-01-01T00:25:00+00:00"


def test_a_restart_before_the_next_occurrence_is_not_past_due(azurite: Azurite, table_prefix: str) -> None:
    _scheduler(azurite, table_prefix, utc(2025, 1, 1, 0, 2), []).run_due(utc(2025, 1, 1, 0, 5))
    calls: list[tuple[str, TimerInfo]] = []
    restarted = _scheduler(azurite, table_prefix, utc(2025, 1, 1, 0, 7), calls)
    assert restarted.run_due(utc(2025, 1, 1, 0, 7)) == []
    assert restarted.run_due(utc(2025, 1, 1, 0, 10)) == ["drift_scan"]
    assert [info.past_due for _, info in calls] == [False]
