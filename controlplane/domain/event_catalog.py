"""The catalog of event types the control plane emits, with what each one means and must carry.

Type names are interfaces: pipelines, Service Bus subscription filters and dashboards match on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    RUNTIME_DEPLOYMENT_REQUESTED = "RuntimeDeploymentRequested"
    RUNTIME_DEPLOYMENT_STATE_CHANGED = "RuntimeDeploymentStateChanged"
    RUNTIME_ENVIRONMENT_PROVISIONED = "RuntimeEnvironmentProvisioned"
    RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED = "RuntimeDeploymentApprovalRequested"
    RUNTIME_DEPLOYMENT_APPROVED = "RuntimeDeploymentApproved"
    RUNTIME_DEPLOYMENT_COMPLETED = "RuntimeDeploymentCompleted"
    RUNTIME_DEPLOYMENT_ROLLED_BACK = "RuntimeDeploymentRolledBack"
    RUNTIME_DEPLOYMENT_FAILED = "RuntimeDeploymentFailed"
    HEALTH_CHECK_COMPLETED = "HealthCheckCompleted"
    RUNTIME_DRIFT_DETECTED = "RuntimeDriftDetected"
    RUNTIME_DRIFT_REMEDIATED = "RuntimeDriftRemediated"
    RUNTIME_DRIFT_FINDING_DECIDED = "RuntimeDriftFindingDecided"
    RUNTIME_DRIFT_RUN_REQUESTED = "RuntimeDriftRunRequested"
    SCALING_POLICY_APPLIED = "ScalingPolicyApplied"
    SCALING_POLICY_VIOLATED = "ScalingPolicyViolated"
    RUNTIME_INCIDENT_RAISED = "RuntimeIncidentRaised"
    RUNTIME_SERVICE_CONDITION_CHANGED = "RuntimeServiceConditionChanged"
    RUNTIME_HEALTH_GATE_COMPLETED = "RuntimeHealthGateCompleted"
    RUNTIME_ANALYSIS_MEASURED = "RuntimeAnalysisMeasured"
    RUNTIME_ANALYSIS_COMPLETED = "RuntimeAnalysisCompleted"
    RUNTIME_ANALYSIS_HELD = "RuntimeAnalysisHeld"
    RUNTIME_ANALYSIS_HOLD_RESOLVED = "RuntimeAnalysisHoldResolved"
    RUNTIME_WEBHOOK_CALLED = "RuntimeWebhookCalled"
    RUNTIME_PROMOTION_HELD = "RuntimePromotionHeld"
    RUNTIME_RELEASE_WAVE_STARTED = "RuntimeReleaseWaveStarted"
    RUNTIME_RELEASE_WAVE_COMPLETED = "RuntimeReleaseWaveCompleted"


@dataclass(frozen=True)
class EventData:
    """One event's type and ``data`` as its builder made it; the emitter wraps it in an envelope (ids, trace,
    time). Builders: ``deployment_events`` (deployments, health checks, incidents), ``loop_events`` (loops)."""

    type: EventType
    data: Mapping[str, Any]


@dataclass(frozen=True)
class EventSpec:
    """What an event type means and the ``data`` keys every instance of it carries."""

    meaning: str
    required: tuple[str, ...]


CATALOG: Mapping[EventType, EventSpec] = {
    EventType.RUNTIME_DEPLOYMENT_REQUESTED: EventSpec(
        "a pipeline or an operator asked for a release to be deployed; actor is null when the control plane "
        "started it (a drift remediation, the failure monitor's restore)",
        ("deploymentId", "release", "environment", "services", "actor"),
    ),
    EventType.RUNTIME_DEPLOYMENT_STATE_CHANGED: EventSpec(
        "a deployment moved along its state machine; with actor when an operator caused it (approve, abort)",
        ("deploymentId", "from", "to"),
    ),
    EventType.RUNTIME_ENVIRONMENT_PROVISIONED: EventSpec(
        "the environment exists as planned; carries the stack outputs",
        ("deploymentId", "environment", "outputs"),
    ),
    EventType.RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED: EventSpec(
        "the deployment waits for an operator's approval (a prod promotion, a canary's approval step)",
        ("deploymentId", "environment", "for"),
    ),
    EventType.RUNTIME_DEPLOYMENT_APPROVED: EventSpec(
        "an operator approved what the deployment waited for", ("deploymentId", "environment", "for", "actor", "reason")
    ),
    EventType.RUNTIME_DEPLOYMENT_COMPLETED: EventSpec(
        "every service is promoted and serving all traffic", ("deploymentId", "environment", "services")
    ),
    EventType.RUNTIME_DEPLOYMENT_ROLLED_BACK: EventSpec(
        "the previous completed deployment was restored", ("deploymentId", "reason", "restoredDeploymentId")
    ),
    EventType.RUNTIME_DEPLOYMENT_FAILED: EventSpec(
        "the deployment stopped without reaching its goal", ("deploymentId", "reason")
    ),
    EventType.HEALTH_CHECK_COMPLETED: EventSpec(
        "a health probe of one revision finished", ("environment", "service", "revision", "report")
    ),
    EventType.RUNTIME_DRIFT_DETECTED: EventSpec(
        "live state differs from desired state (audit)",
        ("findingId", "environment", "service", "classification", "diff"),
    ),
    EventType.RUNTIME_DRIFT_REMEDIATED: EventSpec(
        "a corrective deployment repaired a drift finding", ("findingId", "deploymentId")
    ),
    EventType.RUNTIME_DRIFT_FINDING_DECIDED: EventSpec(
        "an operator approved (remediate) or dismissed (accept) a drift finding",
        ("findingId", "environment", "service", "decision", "status", "actor", "reason"),
    ),
    EventType.RUNTIME_DRIFT_RUN_REQUESTED: EventSpec(
        "an operator started a drift run on demand; reason is null when none was given",
        ("instanceId", "actor", "reason"),
    ),
    EventType.SCALING_POLICY_APPLIED: EventSpec(
        "a scaling policy changed a service's replicas", ("environment", "service", "from", "to", "rule")
    ),
    EventType.SCALING_POLICY_VIOLATED: EventSpec(
        "demand stayed beyond what the policy allows", ("environment", "service", "desired", "maxReplicas")
    ),
    EventType.RUNTIME_SERVICE_CONDITION_CHANGED: EventSpec(
        "the failure monitor moved a service along Healthy/Degraded/Rollback/Restoring/Incident",
        ("environment", "service", "from", "to", "reason"),
    ),
    EventType.RUNTIME_INCIDENT_RAISED: EventSpec(
        "automation could not restore health; an operator is needed (one shape from a deployment and the monitor)",
        ("incidentId", "environment", "services", "deploymentId", "reason", "chain"),
    ),
    EventType.RUNTIME_HEALTH_GATE_COMPLETED: EventSpec(
        "a rollout gate's health probes decided: passed or failed, with the probe counts and the last report",
        ("deploymentId", "service", "revision", "gate", "step", "verdict", "reason"),
    ),
    EventType.RUNTIME_ANALYSIS_MEASURED: EventSpec(
        "one measurement of one analysis metric: the query run, the value (null without data), the threshold "
        "and the measurement's verdict (passed, failed, inconclusive)",
        ("deploymentId", "service", "revision", "gate", "metric", "provider", "query", "value", "threshold", "verdict"),
    ),
    EventType.RUNTIME_ANALYSIS_COMPLETED: EventSpec(
        "a gate's metric analysis decided: passed, failed (rolls back) or inconclusive (holds), per metric",
        ("deploymentId", "service", "revision", "gate", "step", "verdict", "reason", "metrics"),
    ),
    EventType.RUNTIME_ANALYSIS_HELD: EventSpec(
        "an inconclusive analysis holds the rollout: an operator must approve (go on) or abort (roll back); "
        "actionRequired is true",
        ("deploymentId", "service", "gate", "step", "reason", "actionRequired", "timeoutSeconds", "onTimeout"),
    ),
    EventType.RUNTIME_ANALYSIS_HOLD_RESOLVED: EventSpec(
        "an inconclusive hold ended: approved, aborted or timed out, and what the rollout does (continue, rollback)",
        ("deploymentId", "service", "gate", "resolution", "action"),
    ),
    EventType.RUNTIME_WEBHOOK_CALLED: EventSpec(
        "a rollout webhook answered (or did not): its type, the URL without query, the status, the attempts and "
        "the effect on the rollout",
        ("deploymentId", "hook", "hookType", "url", "status", "attempts", "outcome", "effect"),
    ),
    EventType.RUNTIME_PROMOTION_HELD: EventSpec(
        "a confirm-promotion webhook did not confirm: promotion waits and asks again; actionRequired is false",
        ("deploymentId", "service", "hook", "reason"),
    ),
    EventType.RUNTIME_RELEASE_WAVE_STARTED: EventSpec(
        "a wave of a release with dependsOn starts: its services and the services of earlier waves it waited for",
        ("deploymentId", "wave", "waves", "services", "waitsFor"),
    ),
    EventType.RUNTIME_RELEASE_WAVE_COMPLETED: EventSpec(
        "a wave's services passed every gate (passed) or one failed (failed: the whole release rolls back)",
        ("deploymentId", "wave", "waves", "services", "verdict"),
    ),
}

TERMINAL_DEPLOYMENT_EVENTS = frozenset(
    {
        EventType.RUNTIME_DEPLOYMENT_COMPLETED,
        EventType.RUNTIME_DEPLOYMENT_ROLLED_BACK,
        EventType.RUNTIME_DEPLOYMENT_FAILED,
    }
)


def check_data(event_type: EventType, data: Mapping[str, Any]) -> None:
    """Raise ValueError naming the missing keys when ``data`` lacks what the catalog requires."""
    missing = [key for key in CATALOG[event_type].required if key not in data]
    if missing:
        raise ValueError(f"{event_type.value} data is missing {', '.join(missing)}")
