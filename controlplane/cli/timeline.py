"""One line per event of a flow, for people: what the demo prints live and ``replay`` prints afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def describe(event: dict[str, Any]) -> str:
    """What an event says, in a few words (structured CloudEvent JSON in); who acted, when an operator did."""
    data = event.get("data") or {}
    actor = data.get("actor")
    said = _said(event.get("type", ""), data)
    return f"{said}  [by {actor['name']}]" if isinstance(actor, dict) and actor.get("name") else said


def _said(kind: str, data: dict[str, Any]) -> str:
    if kind in _GATE_LINES:
        return _GATE_LINES[kind](data)[:160]
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
    if kind == "RuntimeDeploymentRequested":
        return f"release {data.get('release')} -> {data.get('environment')}"[:160]
    if kind == "RuntimeDeploymentApproved":
        return f"approved ({data.get('for')}): {data.get('reason')}"[:160]
    if kind == "RuntimeDriftFindingDecided":
        decided = f"finding {data.get('findingId')} {data.get('decision')}"
        return f"{data.get('service')}: {decided}: {data.get('reason')}"[:160]
    return json.dumps({k: v for k, v in data.items() if k not in ("deploymentId", "actor")})[:120]


def _at(data: dict[str, Any]) -> str:
    return f"{data.get('service')} gate {data.get('gate')}"


def _measured(data: dict[str, Any]) -> str:
    value = data.get("value")
    shown = f"{value:.4g}" if isinstance(value, int | float) else f"no data ({data.get('error')})"
    threshold = (data.get("threshold") or {}).get("shown")
    measured = f"{data.get('metric')} #{data.get('measurement')} = {shown}"
    return f"{_at(data)}: {measured} (want {threshold}): {data.get('verdict')}"


_GATE_LINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "RuntimeHealthGateCompleted": lambda d: f"{_at(d)} ({d.get('step')}): health {d.get('verdict')}",
    "RuntimeAnalysisMeasured": _measured,
    "RuntimeAnalysisCompleted": lambda d: f"{_at(d)}: analysis {d.get('verdict')}: {d.get('reason')}",
    "RuntimeAnalysisHeld": lambda d: f"{_at(d)}: HELD, an operator must approve or abort: {d.get('reason')}",
    "RuntimeAnalysisHoldResolved": lambda d: f"{_at(d)}: hold {d.get('resolution')} -> {d.get('action')}",
    "RuntimeWebhookCalled": lambda d: (
        f"{d.get('hookType')} webhook {d.get('hook')}: {d.get('status') or d.get('error')} "
        f"after {d.get('attempts')} attempt(s): {d.get('effect')}"
    ),
    "RuntimePromotionHeld": lambda d: f"{d.get('service')}: promotion held by {d.get('hook')}: {d.get('reason')}",
    "RuntimeReleaseWaveStarted": lambda d: (
        f"wave {d.get('wave')}/{d.get('waves')}: {', '.join(d.get('services') or [])}"
        + (f" (after {', '.join(d['waitsFor'])})" if d.get("waitsFor") else "")
    ),
    "RuntimeReleaseWaveCompleted": lambda d: (
        f"wave {d.get('wave')}/{d.get('waves')} {d.get('verdict')}: {', '.join(d.get('services') or [])}"
    ),
}
