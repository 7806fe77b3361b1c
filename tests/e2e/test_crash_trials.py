"""SIGKILL the host at seeded random moments across the demo scenario: after each restart every deployment
ends terminal with exactly one terminal event, no event id twice, and no workload process is orphaned."""

from __future__ import annotations

from pathlib import Path

import pytest

from funchost.azurite import Azurite
from tests.e2e.crash_trials import TERMINAL_STATES, run_crash_trials

SEED = 12


@pytest.mark.slow
def test_seeded_kills_across_the_demo_scenario_leave_nothing_stuck_duplicated_or_orphaned(
    azurite: Azurite, tmp_path: Path
) -> None:
    report = run_crash_trials(azurite.connection_string, tmp_path, seed=SEED, kills=3)
    assert [trial.state in TERMINAL_STATES for trial in report.trials] == [True, True, True], report.trials
    assert report.figures() == {
        "crash_trials": 3,
        "terminal_events_per_trial": [1, 1, 1],
        "duplicate_event_ids": 0,
        "stuck_deployments": 0,
        "orphan_workloads": 0,
    }, report
