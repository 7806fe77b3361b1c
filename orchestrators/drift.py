"""The drift orchestration: one run of the drift loop, started by the drift timer under a fixed instance id.

    scan -> for each approved finding: start its remedy -> corrective deployments (sub-orchestrations of
    the deployment orchestrator, in parallel) -> settle each finding

A fixed instance id makes the run a singleton: the timer starts it only when no run is in flight, so two
runs never remediate the same finding. Durable replay makes a restart mid-remediation resume the same
corrective deployments instead of starting new ones.

The custom status carries counts only, so it stays far below the Durable extension's 16 KB limit for
any number of findings; each finding's outcome is in the Findings table (and the run's output).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import azure.durable_functions as df

from activities.drift import drift_scan, drift_settle, drift_start_remediation
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.domain.workflow.drift_requests import FindingRequest, ScanRequest
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
    context.set_custom_status({"step": "scanning"})
    approved: list[str] = yield context.call_activity(drift_scan, ScanRequest(clock.next()).to_dict())
    started: list[tuple[str, dict[str, Any]]] = []  # (finding id, its corrective deployment's input)
    for finding_id in approved:
        request = FindingRequest(finding_id, clock.next()).to_dict()
        start = yield context.call_activity(drift_start_remediation, request)
        if start:
            started.append((finding_id, start))
    if started:
        context.set_custom_status({"step": "remediating", "approved": len(approved), "remediating": len(started)})
        children = [
            context.call_sub_orchestrator(DEPLOYMENT_ORCHESTRATOR, start, DeploymentStart.instance_id(start))
            for _, start in started
        ]
        try:
            yield context.task_all(children)
        except Exception as error:  # a corrective orchestration failed; settling records what it left behind
            if not context.is_replaying:
                log.error("drift: a corrective deployment failed: %s", error)
    outcomes = {}
    for finding_id, _ in started:
        request = FindingRequest(finding_id, clock.next()).to_dict()
        outcomes[finding_id] = yield context.call_activity(drift_settle, request)
    context.set_custom_status({"step": "done", "approved": len(approved), "outcomes": dict(Counter(outcomes.values()))})
    return {"approved": approved, "outcomes": outcomes}
