"""The drift orchestration: one run of the drift loop, started by the drift timer under a fixed instance id.

    scan -> a batch of approved findings -> start their remedies (one activity) -> corrective deployments
    (sub-orchestrations of the deployment orchestrator, in parallel) -> settle them (one activity)
    -> more approved findings? continue as new with the next batch

A fixed instance id makes the run a singleton: the timer starts it only when no run is in flight (Running,
Pending or ContinuedAsNew: ``triggers/singleton.py``), so two runs never remediate the same finding. A run takes
at most ``CONTROLPLANE_DRIFT_MAX_REMEDIATIONS_PER_RUN`` approved findings per execution, oldest first; when more
remain it continues as new under the same instance id, its input (``DriftRun``) naming where the next batch
starts and counting what the run did so far. Each execution's history is then bounded by the batch, not by the
fleet: the Durable docs' advice for loops ("eternal orchestrations": continue-as-new resets the history).
Only the first execution scans; a later one reads the next batch of Approved findings. Approved findings that stay
Approved (a busy service) are passed over until the next run, so a run always ends.

Durable replay makes a restart mid-remediation resume the same corrective deployments instead of starting new
ones; the batched start is idempotent per finding (``services/drift/batches.py``), so an activity run again
after a crash starts nothing twice either.

The custom status carries counts only, so it stays far below the Durable extension's 16 KB limit for any
number of findings. The output (of the run's last execution) is ``approved`` and ``outcomes`` of that
execution's batch, plus ``generation`` and ``run``: the whole run's counts (``approved``: findings taken,
``outcomes``: status -> count). Each finding's outcome is in the Findings table.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import azure.durable_functions as df

from activities.drift import drift_next_batch, drift_scan, drift_settle_findings, drift_start_remediations
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.domain.workflow.drift_requests import (
    ApprovedBatch,
    BatchRequest,
    DriftRun,
    FindingsRequest,
    ScanRequest,
)
from orchestrators.clock import StepClock
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR, Task

bp = df.Blueprint()
log = logging.getLogger(__name__)
DRIFT_ORCHESTRATOR = "drift"
INSTANCE_ID = "drift"


@bp.function_name(DRIFT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def drift(context: df.DurableOrchestrationContext) -> Task:
    clock = StepClock(context)
    run = DriftRun.from_input(context.get_input())
    generation = run.generation
    if run.start is None:
        context.set_custom_status({"step": "scanning", "generation": generation})
        answer = yield context.call_activity(drift_scan, ScanRequest(clock.next()).to_dict())
    else:
        context.set_custom_status({"step": "selecting", "generation": generation, "approved": run.taken})
        answer = yield context.call_activity(drift_next_batch, BatchRequest(run.start).to_dict())
    batch = ApprovedBatch.from_dict(answer)
    approved = run.taken + len(batch.finding_ids)
    started: dict[str, dict[str, Any]] = {}  # finding id -> its corrective deployment's input
    if batch.finding_ids:
        request = FindingsRequest(batch.finding_ids, clock.next()).to_dict()
        started = yield context.call_activity(drift_start_remediations, request)
    outcomes: dict[str, str] = {}
    if started:
        remediating = {"step": "remediating", "generation": generation, "approved": approved}
        context.set_custom_status({**remediating, "remediating": len(started)})
        children = [
            context.call_sub_orchestrator(DEPLOYMENT_ORCHESTRATOR, start, DeploymentStart.instance_id(start))
            for start in started.values()
        ]
        try:
            yield context.task_all(children)
        except Exception as error:  # a corrective orchestration failed; settling records what it left behind
            if not context.is_replaying:
                log.error("drift: a corrective deployment failed: %s", error)
        request = FindingsRequest(tuple(started), clock.next()).to_dict()
        outcomes = yield context.call_activity(drift_settle_findings, request)
    if batch.next is not None:
        following = run.following(batch.finding_ids, outcomes, batch.next)
        context.set_custom_status({"step": "continuing", "generation": generation, "approved": approved})
        context.continue_as_new(following.to_dict())
        return None
    counts = dict(Counter(run.outcomes) + Counter(outcomes.values()))
    context.set_custom_status({"step": "done", "generation": generation, "approved": approved, "outcomes": counts})
    return {
        "approved": list(batch.finding_ids),
        "outcomes": outcomes,
        "generation": generation,
        "run": {"approved": approved, "outcomes": counts},
    }
