"""An ``Explanation`` as text for people (``python -m controlplane explain``, the demo): the outcome first, then
what the deployment as a whole waited for, then each service's gates with the line that decided each one::

    deployment dep-1 of shop to dev: RolledBack — analysis failed for api at gate 1 (canary step 1: 20% traffic
    on 1 replicas): request-success-rate 0.8 < min 0.95
    api  revision api-2
      gate 1  canary step 1: 20% traffic on 1 replicas                   FAILED
        why       analysis failed: request-success-rate 0.8 < min 0.95
        health    passed  3 in a row; probes: 3 Healthy; last Healthy
        analysis  failed
          request-success-rate (router) >= 0.95  failed
            #1  0.8           failed        router: 1 - 5xx/requests of revision api-2 over 5s
"""

from __future__ import annotations

from controlplane.domain.explanation import Analysis, Explanation, Gate, Health, Hold, Hook
from controlplane.domain.gate_verdicts import answer, number

STEP_WIDTH = 62


def render(explanation: Explanation) -> str:
    """The explanation, one fact per line, indented by what it belongs to."""
    head = f"deployment {explanation.deployment_id}"
    if explanation.release:
        head += f" of {explanation.release}"
    if explanation.environment:
        head += f" to {explanation.environment}"
    lines = [f"{head}: {explanation.state} — {explanation.reason}"]
    if explanation.waves:
        lines.append("waves")
        for wave in explanation.waves:
            after = f"  after {', '.join(wave.waits_for)}" if wave.waits_for else ""
            lines.append(f"  {wave.wave}/{wave.waves}  {', '.join(wave.services)}{after}  {wave.verdict or 'running'}")
    if explanation.hooks:
        lines.append("webhooks")
        lines += [f"  {_hook(hook)}" for hook in explanation.hooks]
    if explanation.promotion_holds:
        lines.append("promotion holds")
        for held in explanation.promotion_holds:
            times = f" ({held.times} times)" if held.times > 1 else ""
            lines.append(f"  {held.service}: webhook {held.hook} has not confirmed{times}: {held.reason}")
    if explanation.approvals:
        lines.append("approvals")
        for approval in explanation.approvals:
            decided = f"approved by {approval.by}" + (f": {approval.reason}" if approval.reason else "")
            lines.append(f"  {approval.what}: {decided if approval.by else 'waiting'}")
    for service in explanation.services:
        lines.append(service.name + (f"  revision {service.revision}" if service.revision else ""))
        if not service.gates:
            lines.append("  no gate reached")
        for gate in service.gates:
            lines += _gate(gate)
    if not explanation.complete:
        lines.append(f"(explained from the first {explanation.events} events only: more are stored)")
    if explanation.unreadable:
        lines.append(f"({explanation.unreadable} event(s) of a shape this version cannot read were left out)")
    return "\n".join(lines)


def _gate(gate: Gate) -> list[str]:
    name = f"gate {gate.number}" if gate.number is not None else "gate"
    lines = [f"  {name:<7} {gate.step:<{STEP_WIDTH}} {gate.verdict.upper()}", f"    why       {gate.why}"]
    if gate.health:
        lines.append(f"    health    {_health(gate.health)}")
    lines += [f"    webhook   {_hook(hook, at_gate=True)}" for hook in gate.hooks]
    if gate.analysis:
        lines += _analysis(gate.analysis)
    if gate.hold:
        lines.append(f"    hold      {_hold(gate.hold)}")
    return lines


def _health(health: Health) -> str:
    said = []
    if health.in_a_row:
        said.append(f"{health.in_a_row.get('passed', 0)} passed, {health.in_a_row.get('failed', 0)} failed in a row")
    if health.probes:
        said.append("probes: " + ", ".join(f"{count} {status}" for status, count in health.probes.items()))
    if health.last:
        said.append(f"last {health.last}")
    text = (health.verdict or "undecided") + (f"  {'; '.join(said)}" if said else "")
    return f"{text}  ({health.reason})" if health.from_probes else text


def _analysis(analysis: Analysis) -> list[str]:
    lines = [f"    analysis  {analysis.verdict}"]
    for metric in analysis.metrics:
        lines.append(f"      {metric.metric} ({metric.provider}) {metric.threshold}  {metric.verdict}")
        for measured in metric.measurements:
            value = number(measured.value) if measured.value is not None else "no value"
            detail = f"{measured.error}: {measured.query}" if measured.error else measured.query
            samples = f" [{measured.samples} samples]" if measured.samples is not None else ""
            lines.append(f"        #{measured.number:<2} {value:<12} {measured.verdict:<12}  {detail}{samples}")
    return lines


def _hold(hold: Hold) -> str:
    if hold.resolution is None:
        timeout = f"; {hold.on_timeout} after {hold.timeout_seconds} s" if hold.timeout_seconds else ""
        return f"{hold.reason}: waiting for an operator's approve or abort{timeout}"
    by = f" by {hold.by}" if hold.by else ""
    return f"{hold.reason}: {hold.resolution}{by}, then {hold.action}"


def _hook(hook: Hook, at_gate: bool = False) -> str:
    where = f" for {hook.service}" if hook.service and not at_gate else ""
    times = f" ({hook.times} times)" if hook.times > 1 else ""
    return f"{hook.hook} ({hook.type}){where}  {answer(hook)}{times}  {hook.effect}  {hook.url}"
