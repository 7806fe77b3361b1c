"""One deployment as the API's detail and ``python -m controlplane explain`` show it: its record and the
explanation of its gates (``domain.explain``), read from the event log by the deployment's trace.

The read is bounded: a deployment held for hours (a confirm-promotion webhook asking again, an inconclusive hold)
keeps adding events, so at most ``MAX_EXPLAINED_EVENTS`` are read and the explanation says ``complete: false``
beyond them (the whole trace stays at ``GET /api/events?traceId=`` and ``python -m controlplane replay``).
"""

from __future__ import annotations

from typing import Any

from controlplane.domain.deployment import Deployment
from controlplane.domain.explain import explain
from controlplane.domain.explanation import Explanation
from controlplane.ports import Deployments, EventLog

MAX_EXPLAINED_EVENTS = 1000


def deployment_detail(deployments: Deployments, event_log: EventLog, deployment_id: str) -> dict[str, Any]:
    """The deployment's record with its ``explanation``; NotFound for an unknown id."""
    deployment = deployments.get_deployment(deployment_id)
    return {**deployment.to_dict(), "explanation": explanation_of(event_log, deployment).to_dict()}


def explanation_of(event_log: EventLog, deployment: Deployment, limit: int = MAX_EXPLAINED_EVENTS) -> Explanation:
    """The deployment explained from the first ``limit`` events of its trace (one more is read to know whether
    there are more)."""
    events = event_log.events_for_trace(deployment.traceid, limit=limit + 1)
    return explain(deployment.id, events[:limit], complete=len(events) <= limit)
