"""The one builder of each event a deployment emits, and of the events the deployment and the failure
monitor share (HealthCheckCompleted, RuntimeIncidentRaised). A builder makes the event's type and data;
``deployment_envelope`` wraps it in the deployment's trace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from controlplane.domain.access import Actor
from controlplane.domain.deployment import Deployment, Transition
from controlplane.domain.event_catalog import EventData, EventType
from controlplane.domain.events import Envelope, TraceContext, new_event
from controlplane.domain.health import HealthReport
from controlplane.domain.manifest import Release
from controlplane.domain.runtime import EnvironmentOutputs

MAX_CHAIN_EVENTS = 200
"""Envelopes an incident carries inline; the whole chain is always at its ``href``."""


def deployment_envelope(
    deployment: Deployment,
    event: EventData,
    *,
    event_id: str,
    source: str,
    time: datetime,
) -> Envelope:
    """``event`` in the deployment's trace: its subject the deployment, its data the deployment id, environment and
    service names (so the audit finds every event of a deployment by environment or service) under the builder's
    own keys (RuntimeDeploymentCompleted's ``services`` maps each name to its revision)."""
    about = {"deploymentId": deployment.id, "environment": deployment.environment}
    return new_event(
        event.type,
        event_id=event_id,
        source=source,
        subject=f"deployments/{deployment.id}",
        time=time,
        trace=TraceContext(deployment.traceid, deployment.id),
        data={**about, "services": list(deployment.service_names), **event.data},
    )


def requested(release: Release, actor: Actor | None) -> EventData:
    """RuntimeDeploymentRequested: the first event of a deployment's trace; ``actor``: who asked (None: the
    control plane itself)."""
    services = [service.name for service in release.spec.services]
    data = {
        "release": release.metadata.name,
        "environment": release.spec.environment.name,
        "services": services,
        "actor": actor.to_dict() if actor else None,
    }
    return EventData(EventType.RUNTIME_DEPLOYMENT_REQUESTED, data)


def state_changed(transition: Transition) -> EventData:
    """RuntimeDeploymentStateChanged: one per transition, with from, to, the reason and, when an operator
    caused it, the actor."""
    data: dict[str, Any] = {
        "from": transition.source.value if transition.source else None,
        "to": transition.target.value,
        "reason": transition.reason,
    }
    if transition.actor:
        data["actor"] = transition.actor.to_dict()
    return EventData(EventType.RUNTIME_DEPLOYMENT_STATE_CHANGED, data)


def environment_provisioned(outputs: EnvironmentOutputs) -> EventData:
    """RuntimeEnvironmentProvisioned: the environment exists as planned, with its stack outputs."""
    data = {"environment": outputs.environment, "outputs": dict(outputs.outputs), "changed": outputs.changed}
    return EventData(EventType.RUNTIME_ENVIRONMENT_PROVISIONED, data)


def approval_requested(
    environment: str, what: str, service: str | None, requested_by: Actor | None = None, four_eyes: bool = False
) -> EventData:
    """RuntimeDeploymentApprovalRequested: the deployment waits for an approval ``what`` names (of ``service``'s
    rollout step, or of the whole release when None); ``requestedBy`` and ``fourEyes`` tell the approvers
    who asked and whether that person is excluded."""
    data: dict[str, Any] = {"environment": environment, "for": what} | ({"service": service} if service else {})
    data["requestedBy"] = requested_by.to_dict() if requested_by else None
    data["fourEyes"] = four_eyes
    return EventData(EventType.RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED, data)


def approved(environment: str, what: str, service: str | None, actor: Actor, reason: str) -> EventData:
    """RuntimeDeploymentApproved: ``actor`` approved the wait ``what`` names, for ``reason``."""
    data: dict[str, Any] = {"environment": environment, "for": what} | ({"service": service} if service else {})
    return EventData(EventType.RUNTIME_DEPLOYMENT_APPROVED, {**data, "actor": actor.to_dict(), "reason": reason})


def completed(environment: str, revisions: Mapping[str, str]) -> EventData:
    """RuntimeDeploymentCompleted: every service promoted; ``revisions`` maps each service to its new revision."""
    return EventData(EventType.RUNTIME_DEPLOYMENT_COMPLETED, {"environment": environment, "services": dict(revisions)})


def rolled_back(
    reason: str, restored_deployment_id: str, restored_health: Mapping[str, str], unrestored: Sequence[str]
) -> EventData:
    """RuntimeDeploymentRolledBack: the previous Completed deployment serves again; ``unrestored`` lists the
    services it did not have (only present when there are some)."""
    data: dict[str, Any] = {
        "reason": reason,
        "restoredDeploymentId": restored_deployment_id,
        "restoredHealth": dict(restored_health),
    }
    if unrestored:
        data["unrestored"] = list(unrestored)
    return EventData(EventType.RUNTIME_DEPLOYMENT_ROLLED_BACK, data)


def failed(reason: str) -> EventData:
    """RuntimeDeploymentFailed: the deployment stopped without reaching its goal."""
    return EventData(EventType.RUNTIME_DEPLOYMENT_FAILED, {"reason": reason})


def health_check_completed(environment: str, service: str, revision: str, report: HealthReport) -> EventData:
    """HealthCheckCompleted: one probe of one revision (a rollout's gate or the failure monitor)."""
    data = {"environment": environment, "service": service, "revision": revision, "report": report.to_dict()}
    return EventData(EventType.HEALTH_CHECK_COMPLETED, data)


def incident_raised(
    *,
    incident_id: str,
    reason: str,
    environment: str,
    services: Sequence[str],
    deployment_id: str,
    traceid: str,
    chain: Sequence[Mapping[str, Any]] | None,
) -> EventData:
    """RuntimeIncidentRaised: automation could not restore health and an operator is needed.

    One shape for the deployment orchestrator (a first release that failed with nothing to restore) and the
    failure monitor (a restore that failed). ``service`` is set when the incident concerns one service.
    ``chain`` is the episode's envelopes when the emitter has them (the monitor reads its trace); the
    orchestrator cannot read the event log deterministically, so its incident points at ``href`` only.
    """
    events = [dict(envelope) for envelope in (chain or [])]
    href = f"/api/events?traceId={traceid}"
    data = {
        "incidentId": incident_id,
        "environment": environment,
        "service": services[0] if len(services) == 1 else None,
        "services": list(services),
        "deploymentId": deployment_id,
        "reason": reason,
        "chain": {
            "traceId": traceid,
            "events": events[:MAX_CHAIN_EVENTS],
            "complete": chain is not None and len(events) <= MAX_CHAIN_EVENTS,
            "href": href,
            "traceRef": href,
            "replay": f"python -m controlplane replay {traceid}",
        },
    }
    return EventData(EventType.RUNTIME_INCIDENT_RAISED, data)
