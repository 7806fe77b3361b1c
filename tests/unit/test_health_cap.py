"""Capping a health report to what is stored (controlplane.domain.health_cap)."""

from __future__ import annotations

import json

from controlplane.domain import health_cap
from controlplane.domain.health import HealthEntry, HealthReport, HealthStatus


def entry(index: int, status: HealthStatus = HealthStatus.HEALTHY, **fields: object) -> HealthEntry:
    return HealthEntry(f"check-{index}", status, **fields)  # type: ignore[arg-type]


def test_a_report_within_the_limits_is_returned_as_it_is() -> None:
    report = HealthReport(HealthStatus.HEALTHY, 200, entries=(entry(1, description="ok", data={"n": 1}),))
    assert health_cap.capped(report) is report


def test_failing_entries_are_kept_first_and_the_detail_says_the_report_was_cut() -> None:
    entries = [entry(i) for i in range(40)] + [entry(40, HealthStatus.UNHEALTHY, description="db down")]
    report = HealthReport(HealthStatus.UNHEALTHY, 503, entries=tuple(entries), detail="HTTP 503")
    cut = health_cap.capped(report)
    names = [e.name for e in cut.entries]
    assert len(names) == health_cap.MAX_ENTRIES and names[-1] == "check-40" and names[0] == "check-0"
    assert cut.detail == f"HTTP 503; report cut to fit: {health_cap.MAX_ENTRIES} of 41 entries kept"
    assert (cut.status, cut.http_status) == (report.status, report.http_status)
    assert "db down" in cut.summary()


def test_long_texts_tags_and_data_are_shortened_and_the_whole_report_fits() -> None:
    big = entry(
        1,
        description="d" * 10_000,
        exception="e" * 10_000,
        tags=tuple(f"t{i}" * 100 for i in range(50)),
        data={"blob": "x" * 50_000},
    )
    cut = health_cap.capped(HealthReport(HealthStatus.HEALTHY, 200, entries=(big,) * 16))
    first = cut.entries[0]
    assert len(first.description or "") == health_cap.TEXT_CHARS and (first.description or "").endswith("…")
    assert len(first.tags) == health_cap.MAX_TAGS and all(len(tag) <= health_cap.TAG_CHARS for tag in first.tags)
    assert first.data == {"truncated": len(json.dumps({"blob": "x" * 50_000}))}
    assert len(json.dumps(cut.to_dict())) <= health_cap.REPORT_CHARS + health_cap.DETAIL_CHARS + 512
    assert cut.detail == "report cut to fit: 64 field(s) shortened"  # 16 entries: description, exception, tags, data
