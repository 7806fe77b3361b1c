"""Why a deployment ended as it did: its envelopes read back into its outcome and, per service in rollout order,
its gates with their verdicts (``gate_verdicts``), plus what the deployment as a whole waited for: release waves,
webhooks outside a gate (pre-rollout, confirm-promotion, post-rollout, rollback), promotion holds and approvals.
``controlplane.cli.explain_text.render`` prints an ``Explanation``; ``to_dict`` is the API's ``explanation``.

A gate is one service's ``(gate number, step)`` of ``gate_events``; its health part counts the service's
HealthCheckCompleted probes since its previous gate. Deployments from before gate events (no
RuntimeHealthGateCompleted at all) are explained from their probes: one gate per service (number None), failed
when a recorded reason names the service's health gate, passed when the deployment got past health gating or a
later service was probed. Probes after the rollback began are the stable revision's and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from controlplane.domain.event_catalog import EventType as E
from controlplane.domain.events import Envelope
from controlplane.domain.explanation import (
    Approval,
    Explanation,
    Gate,
    Health,
    Hold,
    Hook,
    PromotionHold,
    Service,
    Wave,
)
from controlplane.domain.gate_verdicts import GateEvents, at_gate, judge
from controlplane.domain.health import HealthReport
from controlplane.errors import ControlPlaneError

PAST_GATING = frozenset({"Promoting", "Completed"})
ROLLED_BACK_OR_FAILED = frozenset({"RollingBack", "RolledBack", "Failed"})


def explain(deployment_id: str, envelopes: Iterable[Envelope], complete: bool = True) -> Explanation:
    """The explanation of ``deployment_id`` from its trace's envelopes (any order; those of other flows are
    skipped); ``complete`` False says the caller read only the first events."""
    ordered = sorted(
        (e for e in envelopes if e.data.get("deploymentId", e.correlationid) == deployment_id),
        key=lambda e: (e.time, e.extensions.get("sequence", 0)),
    )
    reader = _Reader()
    unreadable = 0
    for envelope in ordered:
        try:
            reader.read(envelope)
        except (KeyError, TypeError, ValueError, ControlPlaneError):  # a shape this version does not know
            unreadable += 1
    services = reader.services()
    state, reason = reader.outcome(services)
    return Explanation(
        deployment_id=deployment_id,
        release=reader.release,
        environment=reader.environment,
        state=state,
        reason=reason,
        services=services,
        waves=tuple(reader.waves.values()),
        hooks=tuple(reader.hooks),
        promotion_holds=tuple(reader.promotion_holds),
        approvals=tuple(reader.approvals),
        complete=complete,
        events=len(ordered),
        unreadable=unreadable,
    )


class _Reader:
    def __init__(self) -> None:
        self.release: str | None = None
        self.environment: str | None = None
        self.requested: list[str] = []
        self.states: list[tuple[str, str]] = []  # (to, reason)
        self.ending: str | None = None  # a terminal event's reason
        self.gates: dict[tuple[str, int | None], GateEvents] = {}
        self.probes: dict[str, list[tuple[str, HealthReport]]] = {}  # service -> (revision, report) not yet gated
        self.revisions: dict[str, str] = {}
        self.waves: dict[int, Wave] = {}
        self.hooks: list[Hook] = []
        self.promotion_holds: list[PromotionHold] = []
        self.approvals: list[Approval] = []
        self.gate_events = False

    def read(self, envelope: Envelope) -> None:
        data = envelope.data
        self.environment = data.get("environment", self.environment)
        kind = envelope.event_type
        if kind is E.RUNTIME_DEPLOYMENT_REQUESTED:
            self.release, self.requested = data.get("release"), list(data.get("services") or [])
        elif kind is E.RUNTIME_DEPLOYMENT_STATE_CHANGED:
            self.states.append((data.get("to") or "", data.get("reason") or ""))
        elif kind in (E.RUNTIME_DEPLOYMENT_ROLLED_BACK, E.RUNTIME_DEPLOYMENT_FAILED):
            self.ending = data.get("reason")
        elif kind is E.RUNTIME_DEPLOYMENT_COMPLETED:
            self.revisions.update(data.get("services") or {})
        elif kind is E.HEALTH_CHECK_COMPLETED and "RollingBack" not in (to for to, _ in self.states):
            probes = self.probes.setdefault(data["service"], [])  # after a rollback: the stable revision's
            probes.append((data["revision"], HealthReport.from_dict(data["report"])))
        elif kind is E.RUNTIME_HEALTH_GATE_COMPLETED:
            self.gate_events = True
            self._gate(data).health = self._health(data)
        elif kind is E.RUNTIME_ANALYSIS_MEASURED:
            self._gate(data).measured.setdefault(data["metric"], []).append(data)
        elif kind is E.RUNTIME_ANALYSIS_COMPLETED:
            self._gate(data).analysis = data
        elif kind is E.RUNTIME_ANALYSIS_HELD:
            self._gate(data).hold = Hold(data["reason"], data.get("timeoutSeconds"), data.get("onTimeout") or "")
        elif kind is E.RUNTIME_ANALYSIS_HOLD_RESOLVED:
            gate = self._gate(data)
            held = gate.hold or Hold("", None, "")
            by = (data.get("actor") or {}).get("name")
            gate.hold = Hold(held.reason, held.timeout_seconds, held.on_timeout, data["resolution"], data["action"], by)
        elif kind is E.RUNTIME_WEBHOOK_CALLED:
            self._hook(data)
        elif kind is E.RUNTIME_PROMOTION_HELD:
            self._promotion_held(data)
        elif kind in (E.RUNTIME_RELEASE_WAVE_STARTED, E.RUNTIME_RELEASE_WAVE_COMPLETED):
            number = data["wave"]
            started = self.waves.get(number) or Wave(number, data["waves"], tuple(data["services"]), ())
            waits = tuple(data.get("waitsFor") or started.waits_for)
            self.waves[number] = Wave(number, started.waves, started.services, waits, data.get("verdict"))
        elif kind is E.RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED:
            self.approvals.append(Approval(data.get("for") or "", data.get("service")))
        elif kind is E.RUNTIME_DEPLOYMENT_APPROVED:
            self._approved(data)

    def _gate(self, data: Mapping[str, Any]) -> GateEvents:
        service = data["service"]
        if data.get("revision"):
            self.revisions.setdefault(service, data["revision"])
        return self.gates.setdefault((service, data.get("gate")), GateEvents(data))

    def _health(self, data: Mapping[str, Any]) -> Health:
        """The gate's verdict with the probes of its revision since the service's previous gate."""
        probes = [report for revision, report in self.probes.pop(data["service"], []) if revision == data["revision"]]
        counts = data.get("probes") or {}
        return Health(data["verdict"], data.get("reason") or "", dict(counts), *_probe_counts(probes))

    def _hook(self, data: Mapping[str, Any]) -> None:
        hook = Hook(
            data["hook"],
            data["hookType"],
            data["url"],
            data.get("status"),
            data.get("attempts") or 0,
            data.get("outcome") or "",
            data.get("effect") or "",
            data.get("error"),
            data.get("service"),
        )
        if data.get("gate") is not None and data.get("service"):
            self._gate(data).hooks.append(hook)
        elif self.hooks and _same_answer(self.hooks[-1], hook):
            self.hooks[-1] = replace(hook, times=self.hooks[-1].times + 1)
        else:
            self.hooks.append(hook)

    def _promotion_held(self, data: Mapping[str, Any]) -> None:
        last = self.promotion_holds[-1] if self.promotion_holds else None
        if last and (last.service, last.hook) == (data["service"], data["hook"]):
            self.promotion_holds[-1] = PromotionHold(last.service, last.hook, data["reason"], last.times + 1)
        else:
            self.promotion_holds.append(PromotionHold(data["service"], data["hook"], data["reason"]))

    def _approved(self, data: Mapping[str, Any]) -> None:
        what, service = data.get("for") or "", data.get("service")
        done = Approval(what, service, (data.get("actor") or {}).get("name"), data.get("reason"))
        waiting = [i for i, a in enumerate(self.approvals) if (a.what, a.service, a.by) == (what, service, None)]
        if waiting:
            self.approvals[waiting[0]] = done
        else:
            self.approvals.append(done)

    def services(self) -> tuple[Service, ...]:
        """In rollout order: services as their first gate came, then the rest as the release lists them."""
        order = list(dict.fromkeys([service for service, _ in self.gates] + self.requested))
        if not self.gate_events:
            order = list(dict.fromkeys([*self.probes, *order]))
        explained = []
        for position, name in enumerate(order):
            gates = sorted(((k[1], g) for k, g in self.gates.items() if k[0] == name), key=lambda p: p[0] or 0)
            judged = [judge(gate) for _, gate in gates]
            if not self.gate_events and self.probes.get(name):
                later_probed = any(self.probes.get(other) for other in order[position + 1 :])
                judged.append(self._from_probes(name, later_probed))
            explained.append(Service(name, self.revisions.get(name), tuple(judged)))
        return tuple(explained)

    def _from_probes(self, service: str, later_probed: bool) -> Gate:
        """An older deployment's health gate, from its probes (see the module docstring)."""
        probes = [report for _, report in self.probes[service]]
        counts, last = _probe_counts(probes)
        failed_reason = next(
            (reason for reason in self._reasons() if f"health gate failed for {service}" in reason), None
        )
        reached = {to for to, _ in self.states}
        if failed_reason:
            verdict, why = "failed", f"health failed: {failed_reason.partition(': ')[2] or failed_reason}"
        elif reached & PAST_GATING or later_probed:
            verdict, why = "passed", f"health passed: {len(probes)} probe(s), the last {last}"
        else:
            verdict, why = "running", f"health probing: {len(probes)} probe(s) so far, the last {last}"
        note = "from HealthCheckCompleted probes: this deployment has no RuntimeHealthGateCompleted events"
        health = Health(verdict if verdict != "running" else None, note, None, counts, last, from_probes=True)
        return Gate(None, "health gate", self.probes[service][-1][0], verdict, why, health)

    def _reasons(self) -> list[str]:
        return [reason for _, reason in self.states if reason] + ([self.ending] if self.ending else [])

    def outcome(self, services: tuple[Service, ...]) -> tuple[str, str]:
        """The deployment's state and the line that explains it."""
        state = self.states[-1][0] if self.states else "Requested"
        gates = [(service.name, gate) for service in services for gate in service.gates]
        failed = [(name, gate) for name, gate in gates if gate.verdict == "failed"]
        held = [(name, gate) for name, gate in gates if gate.verdict == "held"]
        if state in ROLLED_BACK_OR_FAILED and failed:
            return state, at_gate(*failed[0])
        if self.ending or state in ROLLED_BACK_OR_FAILED:
            return state, self.ending or self.states[-1][1] or "no reason recorded"
        if state == "Completed":
            approvals = [f"approved by {a.by}" for a in self.approvals if a.by]
            passed = f"every gate passed ({len(gates)} gate(s) of {len(services)} service(s))"
            return state, "; ".join([passed, *approvals])
        if held:
            return state, at_gate(*held[0])
        waiting = [a for a in self.approvals if a.by is None]
        if waiting:
            return state, f"waiting for an approval of {waiting[0].what}"
        if self.promotion_holds:
            last = self.promotion_holds[-1]
            return state, f"promotion of {last.service} held by webhook {last.hook}: {last.reason}"
        return state, (self.states[-1][1] if self.states else "") or "in progress"


def _same_answer(earlier: Hook, later: Hook) -> bool:
    keys = ("hook", "type", "status", "outcome", "effect", "service")
    return all(getattr(earlier, key) == getattr(later, key) for key in keys)


def _probe_counts(reports: list[HealthReport]) -> tuple[dict[str, int], str | None]:
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.status.value] = counts.get(report.status.value, 0) + 1
    return counts, reports[-1].summary() if reports else None
