"""A deployment's ``explanation`` (the API's ``GET /api/deployments/{id}``) as compact text: the outcome, what the
deployment waited for, then per service each gate with its verdict, the line that decided it, and each analysis
metric's measurements on one line. The app's own ``python -m controlplane explain`` prints the long form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def explained_lines(explanation: Mapping[str, Any]) -> list[str]:
    head = f"deployment {explanation.get('deploymentId')}"
    if explanation.get("release"):
        head += f" of {explanation['release']}"
    if explanation.get("environment"):
        head += f" to {explanation['environment']}"
    lines = [f"{head}: {explanation.get('state')} — {explanation.get('reason')}"]
    for wave in explanation.get("waves") or []:
        after = f" (after {', '.join(wave['waitsFor'])})" if wave.get("waitsFor") else ""
        lines.append(
            f"wave {wave['wave']}/{wave['waves']} {', '.join(wave['services'])}{after}: {_or(wave, 'verdict')}"
        )
    for hook in explanation.get("hooks") or []:
        lines.append(f"webhook {_hook(hook)}")
    for held in explanation.get("promotionHolds") or []:
        lines.append(
            f"promotion of {held['service']} held by webhook {held['hook']} x{held['times']}: {held['reason']}"
        )
    for approval in explanation.get("approvals") or []:
        decided = f"approved by {approval['by']}" if approval.get("by") else "waiting"
        lines.append(f"approval of {approval['for']}: {decided}")
    for service in explanation.get("services") or []:
        lines.append(service["name"] + (f" ({service['revision']})" if service.get("revision") else ""))
        for gate in service.get("gates") or []:
            lines += _gate(gate)
    if explanation.get("complete") is False:
        lines.append(f"(explained from the first {explanation.get('events')} events only)")
    return lines


def _gate(gate: Mapping[str, Any]) -> list[str]:
    number = f"gate {gate['number']}" if gate.get("number") is not None else "gate"
    lines = [f"  {number}  {gate.get('step')}  {str(gate.get('verdict')).upper()}", f"    {gate.get('why')}"]
    for hook in gate.get("hooks") or []:
        lines.append(f"    webhook {_hook(hook)}")
    for metric in (gate.get("analysis") or {}).get("metrics") or []:
        measured = ", ".join(
            f"#{m['number']} {m['value'] if m.get('value') is not None else 'no value'} {m['verdict']}"
            for m in metric.get("measurements") or []
        )
        lines.append(
            f"    {metric['metric']} ({metric['provider']}) {metric['threshold']}: {metric['verdict']}: {measured}"
        )
    return lines


def _hook(hook: Mapping[str, Any]) -> str:
    answer = f"HTTP {hook['status']}" if hook.get("status") is not None else f"no answer ({hook.get('error')})"
    times = f" x{hook['times']}" if hook.get("times", 1) > 1 else ""
    return f"{hook['hook']} ({hook['type']}) {answer}{times}: {hook.get('effect')}"


def _or(item: Mapping[str, Any], key: str, default: str = "running") -> str:
    return str(item.get(key) or default)
