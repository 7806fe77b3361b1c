"""A health gate as one activity: probe the new revision every ``intervalSeconds`` until the gate decides
(``domain.rollout.gate``), its progress deadline passes, or the call's time budget is spent.

One activity rather than a probe-timer-probe chain in the orchestrator: each probe and each timer was a round
trip through the durable backend, and every round trip an episode that replays the whole history. Here a gate
costs one round trip (one more per ``rollout_wait.CALL_BUDGET`` it lasts: a call returns ``probing`` with its
tally, and the orchestrator calls again, so no call runs near the host's ``functionTimeout``).

A last gate of the release's last wave first records the move to HealthGating (the first of them to run does;
the others find it done). The activity records what it decides: each probe's HealthCheckCompleted
(``rollout.probe``) and the verdict's RuntimeHealthGateCompleted. Their event ids derive from the request's (the
probe's number, "decided"), so a call the Durable runtime runs again after a crash records the same events. The
gate stops without a verdict once the deployment is no longer rolling out (another service failed, or an operator
aborted, and the release orchestration is rolling back): ``stopped``.

A probe that cannot run (the store or the network failed) is an Unhealthy probe, a measurement error, as it
was when the orchestrator probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.domain import gate_events
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.health import HealthReport, ProbeFailure, report_for_probe_error
from controlplane.domain.manifest import HealthGate
from controlplane.domain.rollout.gate import GateTally, GateVerdict
from controlplane.domain.workflow.deployment_requests import GateRequest
from controlplane.errors import first_line
from controlplane.ports import Claims, Deployments, EventBus, EventLog, HealthProbe
from controlplane.services import deployments, journal, rollout, rollout_wait
from controlplane.services.deployments import emit

STOPPED = "stopped"


@dataclass(frozen=True)
class GateStores:
    """What a gate reads and writes."""

    deployments: Deployments
    claims: Claims
    event_log: EventLog
    bus: EventBus
    health: HealthProbe
    source: str


async def run_gate(
    stores: GateStores,
    request: GateRequest,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: rollout_wait.Sleep = asyncio.sleep,
) -> dict[str, Any]:
    """Probe until decided: ``{"verdict": "passed" | "failed" | "probing" | "stopped", "successes", "failures",
    "probes", "reason"}`` (``probing``: the budget ran out first; call again with the tally). Store and network
    calls run in threads: the gate waits on the event loop, holding no worker thread between probes."""
    release = await asyncio.to_thread(stores.deployments.get_release, request.deployment_id)
    gate = release.spec.health_gate
    started = now()
    budget_end = started + rollout_wait.CALL_BUDGET
    deadline = rollout_wait.local(request.deadline, request.at, started)
    tally = GateTally(request.successes, request.failures)
    probes = request.probes
    start = request.at  # of this call's events (``_recorded_at``)
    if request.gating is not None:
        start = max(start, await asyncio.to_thread(_enter_health_gating, stores, request, request.at))
    # Whether the release still rolls out is read before the first probe, then by the wait before each next one.
    if not await rollout_wait.in_state(stores.deployments, request.deployment_id, rollout_wait.ROLLING_OUT):
        return _answer(STOPPED, tally, probes, "the deployment is no longer rolling out")
    while True:
        if now() > deadline:
            seconds, service = gate.progress_deadline_seconds, request.target.service
            reason = f"progress deadline of {seconds} s exceeded while gating {service}"
            at = _recorded_at(start, probes - request.probes, gate.interval_seconds)
            await asyncio.to_thread(_decided, stores, request, GateVerdict.FAILED, tally, reason, probes, at)
            return _answer(GateVerdict.FAILED, tally, probes, reason)
        probes += 1
        at = _recorded_at(start, probes - request.probes - 1, gate.interval_seconds)
        report = await asyncio.to_thread(_probe, stores, request, probes, at)
        tally = tally.after(report, gate)
        verdict = tally.verdict(gate)
        if verdict is not GateVerdict.PROBING:
            why = _probes_reason(report, tally, gate)
            decided_at = at + timedelta(microseconds=1)  # right after its last probe, in the log's order
            await asyncio.to_thread(_decided, stores, request, verdict, tally, why, probes, decided_at)
            reason = f"health gate failed for {request.target.service}: {report.summary()}"
            return _answer(verdict, tally, probes, reason if verdict is GateVerdict.FAILED else "")
        next_probe = now() + timedelta(seconds=gate.interval_seconds)
        if next_probe > budget_end:
            return _answer(GateVerdict.PROBING, tally, probes, "")
        if not await rollout_wait.wait_until(stores.deployments, request.deployment_id, next_probe, now, sleep=sleep):
            return _answer(STOPPED, tally, probes, "the deployment is no longer rolling out")


def _enter_health_gating(stores: GateStores, request: GateRequest, at: datetime) -> datetime:
    """Record HealthGating if the release is still RollingOut (the first of its last wave's last gates does); the
    time it was recorded at, by this call or another gate's (its probes come after it in the log)."""
    assert request.gating is not None
    deployments.transition(
        stores.deployments,
        stores.claims,
        stores.event_log,
        stores.bus,
        stores.source,
        request.deployment_id,
        DeploymentState.HEALTH_GATING,
        request.gating.reason,
        at,
        journal.stable_id(request.deployment_id, "HealthGating"),
        actor=request.gating.actor,
        only_from=(DeploymentState.ROLLING_OUT,),
    )
    recorded = stores.deployments.get_deployment(request.deployment_id).transitions
    return next((t.at for t in reversed(recorded) if t.target is DeploymentState.HEALTH_GATING), at)


def _recorded_at(start: datetime, earlier: int, interval_seconds: int) -> datetime:
    """The time an event of this call records: when its probe was due on the orchestration's clock (``start``: the
    request's stamp, or the HealthGating transition's time if that is later, so a last gate's events come after
    the state change in the log whichever gate recorded it; plus an interval for each probe this call made before,
    and a microsecond). Not the wall clock: a call the Durable runtime runs again
    after a crash must record the same rows (the log keys an event by its time and id), not a second copy of each
    event at another time."""
    return start + timedelta(seconds=interval_seconds * earlier, microseconds=1)


def _probe(stores: GateStores, request: GateRequest, number: int, at: datetime) -> HealthReport:
    event_id = journal.stable_id(request.event_id, "probe", str(number))
    try:
        checked = rollout.probe(
            stores.deployments,
            stores.event_log,
            stores.bus,
            stores.health,
            stores.source,
            request.deployment_id,
            request.target,
            event_id,
            at,
        )
    except Exception as error:  # a probe that could not run is a failing probe, never a crashed gate
        return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"probe failed: {first_line(error)}")
    return HealthReport.from_dict(checked)


def _decided(
    stores: GateStores,
    request: GateRequest,
    verdict: GateVerdict,
    tally: GateTally,
    reason: str,
    probes: int,
    at: datetime,
) -> None:
    decided = gate_events.health_gate_completed(request.where, verdict.value, tally.successes, tally.failures, reason)
    # The probe count is in the id: a call run again after a crash may decide at another probe, and its event
    # must then say what the orchestrator acts on.
    event_id = journal.stable_id(request.event_id, "decided", str(probes))
    emit(stores.deployments, stores.event_log, stores.bus, stores.source, request.deployment_id, decided, at, event_id)


def _probes_reason(report: HealthReport, tally: GateTally, gate: HealthGate) -> str:
    if tally.successes:
        return (
            f"{report.summary()} ({tally.successes} passing probes in a row, successThreshold {gate.success_threshold})"
        )
    return f"{report.summary()} ({tally.failures} failing probes in a row, failureThreshold {gate.failure_threshold})"


def _answer(verdict: str, tally: GateTally, probes: int, reason: str) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "successes": tally.successes,
        "failures": tally.failures,
        "probes": probes,
        "reason": reason,
    }
