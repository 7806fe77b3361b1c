"""A SIGKILL of the host's whole process group right after a 202 loses nothing that was acknowledged."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.durability import deployment_survives_group_kill, drift_approval_survives_group_kill


def test_a_deployment_acknowledged_just_before_a_group_kill_survives_and_completes(tmp_path: Path) -> None:
    outcome = deployment_survives_group_kill(tmp_path)
    assert outcome.found, f"{outcome.record} answered 404 after the restart"
    assert (outcome.final, outcome.terminal_events) == ("Completed", 1)


def test_a_drift_approval_acknowledged_just_before_a_group_kill_keeps_its_decision(tmp_path: Path) -> None:
    outcome = drift_approval_survives_group_kill(tmp_path)
    assert outcome.found and outcome.decision_kept, outcome
    assert (outcome.final, outcome.terminal_events) == ("Remediated", 1)
