"""The one builder of each event the control loops emit (drift, scaling, failure monitor).

The health checks and incidents the failure monitor emits share their builders with deployments
(``deployment_events``). A builder makes the event's type and data; the loop wraps it in its envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlplane.domain.access import Actor
from controlplane.domain.event_catalog import EventData, EventType
from controlplane.domain.findings import DriftFinding


def drift_detected(
    *,
    finding_id: str,
    environment: str,
    service: str,
    classification: str,
    kind: str,
    diff: Mapping[str, Any],
    status: str,
    desired_revision: str | None,
) -> EventData:
    """RuntimeDriftDetected (audit): a divergence recorded as a finding, with its status after policy."""
    data = {
        "findingId": finding_id,
        "environment": environment,
        "service": service,
        "classification": classification,
        "kind": kind,
        "diff": dict(diff),
        "status": status,
        "desiredRevision": desired_revision,
    }
    return EventData(EventType.RUNTIME_DRIFT_DETECTED, data)


def drift_remediated(finding: DriftFinding, outcome: Mapping[str, Any]) -> EventData:
    """RuntimeDriftRemediated: ``outcome`` says how (the corrective deployment, or the workloads removed)."""
    data = {
        "findingId": finding.id,
        "deploymentId": finding.deployment_id,
        "environment": finding.environment,
        "service": finding.service,
        "kind": finding.kind,
        **outcome,
    }
    return EventData(EventType.RUNTIME_DRIFT_REMEDIATED, data)


def finding_decided(finding: DriftFinding, decision: str, actor: Actor, reason: str) -> EventData:
    """RuntimeDriftFindingDecided: ``actor`` approved or dismissed ``finding`` (as decided: its new status)."""
    data = {
        "findingId": finding.id,
        "environment": finding.environment,
        "service": finding.service,
        "kind": finding.kind,
        "decision": decision,
        "status": finding.status.value,
        "actor": actor.to_dict(),
        "reason": reason,
    }
    return EventData(EventType.RUNTIME_DRIFT_FINDING_DECIDED, data)


def drift_run_requested(instance_id: str, actor: Actor, reason: str | None) -> EventData:
    """RuntimeDriftRunRequested: ``actor`` started drift run ``instance_id`` on demand."""
    data = {"instanceId": instance_id, "actor": actor.to_dict(), "reason": reason}
    return EventData(EventType.RUNTIME_DRIFT_RUN_REQUESTED, data)


def scaling_applied(environment: str, service: str, change: Mapping[str, Any]) -> EventData:
    """ScalingPolicyApplied: ``change`` is the recorded change (from, to, rule, reason, metrics, revision)."""
    data = {"environment": environment, "service": service, **{key: change[key] for key in SCALING_CHANGE_KEYS}}
    return EventData(EventType.SCALING_POLICY_APPLIED, data)


SCALING_CHANGE_KEYS = ("from", "to", "rule", "reason", "metrics", "revision")


def scaling_violated(environment: str, service: str, desired: int | None, max_replicas: int, reason: str) -> EventData:
    """ScalingPolicyViolated: demand stayed beyond maxReplicas for the violation window."""
    data = {
        "environment": environment,
        "service": service,
        "desired": desired,
        "maxReplicas": max_replicas,
        "reason": f"demand beyond maxReplicas for the violation window: {reason}",
    }
    return EventData(EventType.SCALING_POLICY_VIOLATED, data)


def condition_changed(
    environment: str, service: str, before: str, after: str, reason: str, deployment_id: str
) -> EventData:
    """RuntimeServiceConditionChanged: the failure monitor moved a service along its conditions."""
    data = {
        "environment": environment,
        "service": service,
        "from": before,
        "to": after,
        "reason": reason,
        "deploymentId": deployment_id,
    }
    return EventData(EventType.RUNTIME_SERVICE_CONDITION_CHANGED, data)
