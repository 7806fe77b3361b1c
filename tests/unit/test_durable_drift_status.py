"""The drift orchestration's custom status stays small for any number of findings (the Durable extension
fails an orchestration whose custom status is over 16 KB); each finding's outcome is in the Findings table.

A drift run of 1,000 findings is replayed through the Durable Functions SDK over a history built in the
host's shape: scan, 1,000 remedies started, 1,000 corrective deployments, 1,000 findings settled.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from funchost.durable.episodes import check_custom_status
from funchost.durable.history import Event, EventType, event, execution_started
from funchost.durable.replay import OrchestrationReplay, Outcome, TimerLimits
from funchost.functions import ORCHESTRATION
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from orchestrators.drift import DRIFT_ORCHESTRATOR, INSTANCE_ID
from tests import product_app

FINDINGS = 1_000
NOW = datetime(2026, 12, 6, tzinfo=UTC)


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


def drift_history(settled: bool) -> list[Event]:
    """The drift run's history until its corrective deployments were created, or until it settled them all."""
    ids = [f"finding-{n:04d}" for n in range(FINDINGS)]
    history = [
        event(EventType.ORCHESTRATOR_STARTED, NOW),
        execution_started(NOW, DRIFT_ORCHESTRATOR, None, INSTANCE_ID, "x", None),
    ]
    history += [scheduled(0, "drift_scan"), event(EventType.ORCHESTRATOR_COMPLETED, NOW)]
    results = [completed(0, ids)]
    for n in range(1, FINDINGS + 1):
        history += episode(results, [scheduled(n, "drift_start_remediation")])
        results = [completed(n, {"deploymentId": f"dep-{n}"})]
    children = [
        event(
            EventType.SUB_ORCHESTRATION_CREATED, NOW, FINDINGS + n, Name=DEPLOYMENT_ORCHESTRATOR, InstanceId=f"dep-{n}"
        )
        for n in range(1, FINDINGS + 1)
    ]
    history += episode(results, children)
    if not settled:
        return history
    results = [
        event(EventType.SUB_ORCHESTRATION_COMPLETED, NOW, TaskScheduledId=child["EventId"], Result="{}")
        for child in children
    ]
    for n in range(2 * FINDINGS + 1, 3 * FINDINGS + 1):
        history += episode(results, [scheduled(n, "drift_settle")])
        results = [completed(n, "Remediated" if n % 10 else "RemediationFailed")]
    return [*history, event(EventType.ORCHESTRATOR_STARTED, NOW), *results]


def replay(history: list[Event]) -> Outcome:
    handler = product_app.index().get(DRIFT_ORCHESTRATOR, ORCHESTRATION).handler
    return OrchestrationReplay(handler, INSTANCE_ID, None, TimerLimits()).replay(history, None)


def size_in_utf16_bytes(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-16-le"))


def test_the_status_while_remediating_1000_findings_holds_counts_only() -> None:
    outcome = replay(drift_history(settled=False))

    assert not outcome.failed and not outcome.is_done
    assert outcome.custom_status == {"step": "remediating", "approved": FINDINGS, "remediating": FINDINGS}
    check_custom_status(outcome.custom_status)
    assert size_in_utf16_bytes(outcome.custom_status) < 200


def test_the_status_after_settling_1000_findings_counts_their_outcomes() -> None:
    outcome = replay(drift_history(settled=True))

    assert outcome.is_done and not outcome.failed
    assert outcome.custom_status == {
        "step": "done",
        "approved": FINDINGS,
        "outcomes": {"Remediated": 900, "RemediationFailed": 100},
    }
    check_custom_status(outcome.custom_status)
    assert size_in_utf16_bytes(outcome.custom_status) < 200
    assert len(outcome.output["outcomes"]) == FINDINGS  # every outcome is in the run's output
