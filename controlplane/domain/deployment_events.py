"""Envelopes a deployment emits, built from the deployment record so every one shares its traceid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controlplane.domain.deployment import Deployment, Transition
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope, TraceContext, new_event


def _event(
    deployment: Deployment,
    event_type: EventType,
    *,
    event_id: str,
    source: str,
    time: datetime,
    data: dict[str, Any],
    causationid: str | None,
) -> Envelope:
    return new_event(
        event_type,
        event_id=event_id,
        source=source,
        subject=f"deployments/{deployment.id}",
        time=time,
        trace=TraceContext(deployment.traceid, deployment.id),
        data={"deploymentId": deployment.id, **data},
        causationid=causationid,
    )


def requested(deployment: Deployment, *, event_id: str, source: str) -> Envelope:
    """RuntimeDeploymentRequested: the first event of a deployment's trace."""
    return _event(
        deployment,
        EventType.RUNTIME_DEPLOYMENT_REQUESTED,
        event_id=event_id,
        source=source,
        time=deployment.created_at,
        data={
            "release": deployment.release.metadata.name,
            "environment": deployment.environment,
            "services": list(deployment.service_names),
        },
        causationid=None,
    )


def state_changed(
    deployment: Deployment, transition: Transition, *, event_id: str, source: str, causationid: str | None
) -> Envelope:
    """RuntimeDeploymentStateChanged: one per transition, with from, to and the reason."""
    return _event(
        deployment,
        EventType.RUNTIME_DEPLOYMENT_STATE_CHANGED,
        event_id=event_id,
        source=source,
        time=transition.at,
        data={
            "from": transition.source.value if transition.source else None,
            "to": transition.target.value,
            "reason": transition.reason,
        },
        causationid=causationid,
    )


def completed(deployment: Deployment, *, event_id: str, source: str, causationid: str | None) -> Envelope:
    """RuntimeDeploymentCompleted: every service promoted."""
    return _event(
        deployment,
        EventType.RUNTIME_DEPLOYMENT_COMPLETED,
        event_id=event_id,
        source=source,
        time=deployment.updated_at,
        data={
            "environment": deployment.environment,
            "services": {name: progress.to_dict() for name, progress in deployment.services.items()},
        },
        causationid=causationid,
    )


def rolled_back(
    deployment: Deployment,
    *,
    reason: str,
    restored_deployment_id: str | None,
    event_id: str,
    source: str,
    causationid: str | None,
) -> Envelope:
    """RuntimeDeploymentRolledBack: the previous Completed deployment is serving again."""
    return _event(
        deployment,
        EventType.RUNTIME_DEPLOYMENT_ROLLED_BACK,
        event_id=event_id,
        source=source,
        time=deployment.updated_at,
        data={"reason": reason, "restoredDeploymentId": restored_deployment_id},
        causationid=causationid,
    )
