"""The drift orchestration: one run of the drift loop, started by the drift timer under a fixed instance id.

    scan -> for each approved finding: start its remedy -> corrective deployments (sub-orchestrations of
    the deployment orchestrator, in parallel) -> settle each finding

A fixed instance id makes the run a singleton: the timer starts it only when no run is in flight, so two
runs never remediate the same finding. Durable replay makes a restart mid-remediation resume the same
corrective deployments instead of starting new ones.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.drift import drift_scan, drift_settle, drift_start_remediation

bp = df.Blueprint()
log = logging.getLogger(__name__)
INSTANCE_ID = "drift"
DEPLOYMENT_ORCHESTRATOR = "deployment"


@bp.orchestration_trigger(context_name="context")
def drift(context: df.DurableOrchestrationContext):
    tick = 0

    def at() -> str:
        nonlocal tick
        tick += 1
        return (context.current_utc_datetime + timedelta(microseconds=tick)).isoformat()

    context.set_custom_status({"step": "scanning"})
    approved: list[str] = yield context.call_activity(drift_scan, {"at": at()})
    started: list[dict[str, Any]] = []
    for finding_id in approved:
        start = yield context.call_activity(drift_start_remediation, {"findingId": finding_id, "at": at()})
        if start:
            started.append({"findingId": finding_id, **start})
    if started:
        context.set_custom_status({"step": "remediating", "findings": [s["findingId"] for s in started]})
        children = [
            context.call_sub_orchestrator(DEPLOYMENT_ORCHESTRATOR, _deployment_input(s), s["deploymentId"])
            for s in started
        ]
        try:
            yield context.task_all(children)
        except Exception as error:  # a corrective orchestration failed; settling records what it left behind
            if not context.is_replaying:
                log.error("drift: a corrective deployment failed: %s", error)
    outcomes = {}
    for start in started:
        outcomes[start["findingId"]] = yield context.call_activity(
            drift_settle, {"findingId": start["findingId"], "at": at()}
        )
    context.set_custom_status({"step": "done", "approved": len(approved), "outcomes": outcomes})
    return {"approved": approved, "outcomes": outcomes}


def _deployment_input(start: dict[str, Any]) -> dict[str, Any]:
    return {key: start[key] for key in ("deploymentId", "traceId", "release", "preApproved")}
