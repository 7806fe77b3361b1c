"""The drift orchestration's custom status stays small for any number of findings (the Durable extension
fails an orchestration whose custom status is over 16 KB); each finding's outcome is in the Findings table.

An execution of the drift run over a batch of 1,000 findings is replayed through the Durable Functions SDK over a
history built in the host's shape: scan (its first batch), the batch's remedies started (one activity), 1,000
corrective deployments, the batch settled (one activity); and an execution that continues as new.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from azure.durable_functions.models.actions.ActionType import ActionType

from controlplane.domain.listing_pages import FindingPosition
from funchost.durable.episodes import check_custom_status
from funchost.durable.history import Event, EventType, event, execution_started
from funchost.durable.replay import OrchestrationReplay, Outcome, TimerLimits
from funchost.functions import ORCHESTRATION
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from orchestrators.drift import DRIFT_ORCHESTRATOR, INSTANCE_ID
from tests import product_app

FINDINGS = 1_000
NOW = datetime(2026, 12, 6, tzinfo=UTC)
NEXT = FindingPosition("2026-12-06T00:00:00.000000Z", "finding-1000")


def episode(inbound: list[Event], scheduled: list[Event]) -> list[Event]:
    return [
        event(EventType.ORCHESTRATOR_STARTED, NOW),
        *inbound,
        *scheduled,
        event(EventType.ORCHESTRATOR_COMPLETED, NOW),
    ]


def completed(task_id: int, result) -> Event:
    return event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=task_id, Result=json.dumps(result))


def scheduled(task_id: int, name: str) -> Event:
    return event(EventType.TASK_SCHEDULED, NOW, task_id, Name=name, Input="{}")


def drift_history(settled: bool, following: bool = False) -> list[Event]:
    """The run's history until its corrective deployments were created, or until it settled them all; with
    ``following``, the scan's batch says more approved findings remain."""
    ids = [f"finding-{n:04d}" for n in range(FINDINGS)]
    history = [
        event(EventType.ORCHESTRATOR_STARTED, NOW),
        execution_started(NOW, DRIFT_ORCHESTRATOR, None, INSTANCE_ID, "x", None),
    ]
    history += [scheduled(0, "drift_scan"), event(EventType.ORCHESTRATOR_COMPLETED, NOW)]
    batch = {"findingIds": ids, **({"next": NEXT.token()} if following else {})}
    history += episode([completed(0, batch)], [scheduled(1, "drift_start_remediations")])
    starts = {fid: {"deploymentId": f"dep-{n}"} for n, fid in enumerate(ids)}
    children = [
        event(EventType.SUB_ORCHESTRATION_CREATED, NOW, 2 + n, Name=DEPLOYMENT_ORCHESTRATOR, InstanceId=f"dep-{n}")
        for n in range(FINDINGS)
    ]
    history += episode([completed(1, starts)], children)
    if not settled:
        return history
    results = [
        event(EventType.SUB_ORCHESTRATION_COMPLETED, NOW, TaskScheduledId=child["EventId"], Result="{}")
        for child in children
    ]
    settle = FINDINGS + 2
    history += episode(results, [scheduled(settle, "drift_settle_findings")])
    outcomes = {fid: "Remediated" if n % 10 else "RemediationFailed" for n, fid in enumerate(ids)}
    return [*history, event(EventType.ORCHESTRATOR_STARTED, NOW), completed(settle, outcomes)]


def replay(history: list[Event]) -> Outcome:
    handler = product_app.index().get(DRIFT_ORCHESTRATOR, ORCHESTRATION).handler
    return OrchestrationReplay(handler, INSTANCE_ID, None, TimerLimits()).replay(history, None)


def size_in_utf16_bytes(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-16-le"))


def test_the_status_while_remediating_1000_findings_holds_counts_only() -> None:
    outcome = replay(drift_history(settled=False))

    assert not outcome.failed and not outcome.is_done
    assert outcome.custom_status == {
        "step": "remediating",
        "generation": 1,
        "approved": FINDINGS,
        "remediating": FINDINGS,
    }
    check_custom_status(outcome.custom_status)
    assert size_in_utf16_bytes(outcome.custom_status) < 300


def test_the_status_after_settling_1000_findings_counts_their_outcomes() -> None:
    outcome = replay(drift_history(settled=True))

    assert outcome.is_done and not outcome.failed
    counts = {"Remediated": 900, "RemediationFailed": 100}
    assert outcome.custom_status == {"step": "done", "generation": 1, "approved": FINDINGS, "outcomes": counts}
    check_custom_status(outcome.custom_status)
    assert size_in_utf16_bytes(outcome.custom_status) < 300
    assert len(outcome.output["outcomes"]) == FINDINGS  # every outcome of the batch is in the run's output
    assert outcome.output["run"] == {"approved": FINDINGS, "outcomes": counts}


def test_an_execution_with_more_findings_to_take_continues_as_new_with_counts_only() -> None:
    outcome = replay(drift_history(settled=True, following=True))

    assert not outcome.failed
    actions = [action for group in outcome.state["actions"] for action in group]
    [continuing] = [action for action in actions if action.get("actionType") == ActionType.CONTINUE_AS_NEW]
    carried = continuing["input"]
    carried = json.loads(carried) if isinstance(carried, str) else carried
    counts = {"Remediated": 900, "RemediationFailed": 100}
    assert carried == {"generation": 2, "taken": FINDINGS, "outcomes": counts, "start": NEXT.token()}
    assert outcome.custom_status == {"step": "continuing", "generation": 1, "approved": FINDINGS}
    assert size_in_utf16_bytes(carried) < 500  # the next execution's input does not grow with the findings
