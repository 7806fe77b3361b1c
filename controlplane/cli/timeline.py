"""One line per event of a flow, for people: what the demo prints live and ``replay`` prints afterwards."""

from __future__ import annotations

import json
from typing import Any


def describe(event: dict[str, Any]) -> str:
    """What an event says, in a few words (structured CloudEvent JSON in)."""
    data = event.get("data") or {}
    kind = event.get("type", "")
    if kind == "RuntimeDeploymentStateChanged":
        reason = f"  ({data['reason']})" if data.get("reason") else ""
        return f"{data.get('from')} -> {data.get('to')}{reason}"[:160]
    if kind == "HealthCheckCompleted":
        return f"{data.get('revision')}: {data.get('report', {}).get('status')}"
    if kind == "RuntimeEnvironmentProvisioned":
        return f"environment {data.get('environment')} (changed: {data.get('changed')})"
    if kind == "RuntimeDeploymentRolledBack":
        return f"restored {data.get('restoredDeploymentId')}: {data.get('reason')}"[:160]
    if kind == "RuntimeDeploymentApprovalRequested":
        return f"waiting for approval: {data.get('for')}"[:160]
    if kind == "RuntimeDeploymentCompleted":
        return ", ".join(f"{service}={revision}" for service, revision in (data.get("services") or {}).items())
    if kind == "RuntimeServiceConditionChanged":
        return f"{data.get('service')}: {data.get('from')} -> {data.get('to')}  ({data.get('reason')})"[:160]
    if kind == "RuntimeDriftDetected":
        pointers = ", ".join(data.get("diff") or {})
        remedy = f"{data.get('classification')}, {data.get('status')}"
        return f"{data.get('service')}: {data.get('kind')} {pointers} ({remedy})"
    if kind == "RuntimeDriftRemediated":
        return f"{data.get('service')}: finding {data.get('findingId')} repaired"
    if kind == "ScalingPolicyApplied":
        return f"{data.get('service')}: {data.get('from')} -> {data.get('to')} replicas ({data.get('reason')})"[:160]
    if kind == "RuntimeIncidentRaised":
        chain = data.get("chain") or {}
        return f"{data.get('incidentId')}: {data.get('reason')} ({len(chain.get('events') or [])} events chained)"[:160]
    return json.dumps({k: v for k, v in data.items() if k != "deploymentId"})[:120]
