"""bench/reliability.py's report without hosts: it carries the keys issue 12 names, a section that breaks reads
'failed' with null figures while the others still count, and a missed goal fails the report."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
ISSUE_KEYS = {
    "crash_trials",
    "terminal_events_per_trial",
    "duplicate_event_ids",
    "stuck_deployments",
    "fuzz_requests",
    "fuzz_5xx",
    "auth_leaks",
    "lost_events",
}


@pytest.fixture(scope="module")
def report() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # as when the script runs: its sections module sits next to it
    try:
        return importlib.import_module("reliability")
    finally:
        sys.path.remove(str(BENCH))


def test_every_key_the_issue_names_is_a_figure_of_the_report(report: ModuleType) -> None:
    keys = [row.key for section in report.SECTIONS for row in section.rows]
    assert set(keys) >= ISSUE_KEYS
    assert len(keys) == len(set(keys)), "each figure in one row"


def test_a_broken_section_reads_failed_the_others_count_and_a_missed_goal_fails(
    report: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(_: Any) -> dict[str, Any]:
        return {"crash_trials": 2, "terminal_events_per_trial": [1, 2], "stuck_deployments_crash": 1}

    def fuzz(_: Any) -> dict[str, Any]:
        raise ConnectionError("host did not start")

    Row, Section = report.Row, report.Section
    sections = (
        Section(
            "crash",
            crash,
            (
                Row("crash_trials", "trials"),
                Row("terminal_events_per_trial", "ends", report.each_one),
                Row("stuck_deployments_crash", "stuck", report.zero),
            ),
        ),
        Section("fuzz", fuzz, (Row("fuzz_5xx", "5xx", report.zero),)),
        Section("auth", None, (Row("auth_leaks", "leaks", report.zero),)),
    )
    context = report.Context("unused", tmp_path, report.Bounds(12, 2, 1, 1, 1))

    figures, seconds, errors = report.run(sections, context)

    assert figures["crash_trials"] == 2 and figures["stuck_deployments"] == 1
    assert figures["fuzz_5xx"] is None and figures["auth_leaks"] is None
    assert errors == {"fuzz": "ConnectionError: host did not start"}
    assert set(seconds) == {"crash", "fuzz"}
    assert report.table(sections, figures, seconds, errors) is False
    lines = capsys.readouterr().out.splitlines()
    assert any("ends" in line and line.endswith("NO") for line in lines)
    assert any("5xx" in line and line.rstrip().endswith("failed") for line in lines)
    assert any("leaks" in line and line.rstrip().endswith("not run") for line in lines)
