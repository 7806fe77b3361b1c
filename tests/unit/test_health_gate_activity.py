"""A health gate as one activity (controlplane/services/health_gate.py) and the waits of rollout activities
(rollout_wait, analysis.wait_for_due, deployments.transition ``only_from``), over memory stores with a fake clock:
nothing here sleeps in real time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from controlplane.adapters.storage.stores import Stores
from controlplane.domain import gate_events
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.event_catalog import EventType
from controlplane.domain.health import HealthReport, HealthStatus
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.deployment_requests import GateRequest, Gating
from controlplane.services import analysis, deployments, rollout_wait
from controlplane.services.health_gate import GateStores, run_gate
from controlplane.testing.fakes import RecordingEventBus, ScriptedHealthProbe
from controlplane.testing.memory_documents import memory_stores
from tests.builders import ROLLING_OUT_PATH, T0, deployment, walked

RECORD = deployment()  # the release's default health gate: every 5 s, 3 in a row decide, 600 s deadline
TARGET = Target("orders", "orders--new", 2, "orders--old", 2, "dep-0")
WHERE = gate_events.gate_of("orders", "orders--new", 1, "traffic=10")
ROLLING_BACK_PATH = (*ROLLING_OUT_PATH, DeploymentState.ROLLING_BACK)


class Clock:
    """The activity's clock: ``sleep`` moves it on at once."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


class SequenceProbe(ScriptedHealthProbe):
    """Answers each probe with the next status of ``script`` (H healthy, U unhealthy), over and over."""

    def __init__(self, script: str) -> None:
        super().__init__()
        self.script = script

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        status = HealthStatus.HEALTHY if self.script[len(self.probes) % len(self.script)] == "H" else None
        self.statuses = {revision: status or HealthStatus.UNHEALTHY}
        return super().probe(environment, service, revision, path)


def world(path: tuple[DeploymentState, ...] = ROLLING_OUT_PATH) -> Stores:
    store = memory_stores()
    store.deployments.create_deployment(walked(RECORD, path))
    return store


def gate_stores(store: Stores, health: ScriptedHealthProbe) -> GateStores:
    return GateStores(store.deployments, store.claims, store.event_log, RecordingEventBus(), health, "/tests")


def gate_request(**changes: Any) -> GateRequest:
    fields: dict[str, Any] = {
        "deployment_id": RECORD.id,
        "trace_id": RECORD.traceid,
        "at": T0,
        "event_id": "gate-1",
        "target": TARGET,
        "where": WHERE,
        "deadline": T0 + timedelta(seconds=600),
    }
    return GateRequest(**{**fields, **changes})


def run(store: Stores, health: ScriptedHealthProbe, request: GateRequest, clock: Clock | None = None) -> dict[str, Any]:
    clock = clock or Clock()
    return asyncio.run(run_gate(gate_stores(store, health), request, now=clock.now, sleep=clock.sleep))


def events(store: Stores, kind: EventType) -> list[Any]:
    return [event for event in store.event_log.events_for_trace(RECORD.traceid) if event.type == kind.value]


def test_a_gate_passes_after_success_threshold_probes_and_records_one_verdict() -> None:
    store, health = world(), ScriptedHealthProbe()
    answer = run(store, health, gate_request())
    assert answer == {"verdict": "passed", "successes": 3, "failures": 0, "probes": 3, "reason": ""}
    assert health.probes == ["orders--new"] * 3
    [decided] = events(store, EventType.RUNTIME_HEALTH_GATE_COMPLETED)
    assert decided.data["verdict"] == "passed" and decided.data["gate"] == 1
    assert len(events(store, EventType.HEALTH_CHECK_COMPLETED)) == 3


def test_a_gate_fails_after_failure_threshold_probes() -> None:
    store, health = world(), ScriptedHealthProbe({"orders--new": HealthStatus.UNHEALTHY})
    answer = run(store, health, gate_request())
    assert (answer["verdict"], answer["failures"], answer["probes"]) == ("failed", 3, 3)
    assert answer["reason"].startswith("health gate failed for orders")
    [decided] = events(store, EventType.RUNTIME_HEALTH_GATE_COMPLETED)
    assert decided.data["verdict"] == "failed"


def test_a_gate_goes_on_from_the_tally_of_its_earlier_calls() -> None:
    store, health = world(), ScriptedHealthProbe()
    answer = run(store, health, gate_request(successes=2, probes=30))
    assert (answer["verdict"], answer["successes"], answer["probes"]) == ("passed", 3, 31)
    assert len(health.probes) == 1


def test_past_its_deadline_a_gate_fails_with_the_progress_deadline_reason_and_probes_nothing() -> None:
    store, health = world(), ScriptedHealthProbe()
    answer = run(store, health, gate_request(deadline=T0 - timedelta(seconds=1)))
    assert answer["verdict"] == "failed"
    assert answer["reason"] == "progress deadline of 600 s exceeded while gating orders"
    assert health.probes == []
    [decided] = events(store, EventType.RUNTIME_HEALTH_GATE_COMPLETED)
    assert decided.data["verdict"] == "failed" and "progress deadline" in decided.data["reason"]


def test_the_deadline_is_on_the_orchestration_clock() -> None:
    """The activity's clock runs an hour ahead of the orchestration's: the deadline moves with it."""
    store, health = world(), ScriptedHealthProbe()
    answer = run(store, health, gate_request(), Clock(T0 + timedelta(hours=1)))
    assert answer["verdict"] == "passed"


def test_a_gate_that_would_outlast_its_call_budget_returns_probing_with_its_tally() -> None:
    store, health, clock = world(), SequenceProbe("HU"), Clock()  # never 3 in a row: undecided
    answer = run(store, health, gate_request(), clock)
    interval = 5
    probes = int(rollout_wait.CALL_BUDGET.total_seconds()) // interval + 1  # at 0 s, 5 s, ... and at the budget
    assert answer == {"verdict": "probing", "successes": 1, "failures": 0, "probes": probes, "reason": ""}
    assert clock.at - T0 <= rollout_wait.CALL_BUDGET
    assert events(store, EventType.RUNTIME_HEALTH_GATE_COMPLETED) == []
    assert len(events(store, EventType.HEALTH_CHECK_COMPLETED)) == probes


def test_a_gate_stops_once_the_deployment_is_rolling_back() -> None:
    store, health = world(ROLLING_BACK_PATH), ScriptedHealthProbe()
    answer = run(store, health, gate_request())
    assert answer["verdict"] == "stopped"
    assert health.probes == []
    assert events(store, EventType.RUNTIME_HEALTH_GATE_COMPLETED) == []


def test_a_gate_stops_between_probes_when_the_release_starts_rolling_back() -> None:
    store, clock = world(), Clock()
    health = ScriptedHealthProbe()

    async def sleep_then_roll_back(seconds: float) -> None:
        await clock.sleep(seconds)
        store.deployments.update_deployment(RECORD.id, lambda d: d.advance(DeploymentState.ROLLING_BACK, clock.at))

    stores = gate_stores(store, health)
    answer = asyncio.run(run_gate(stores, gate_request(), now=clock.now, sleep=sleep_then_roll_back))
    assert (answer["verdict"], answer["probes"]) == ("stopped", 1)


def state_changes(store: Stores, to: DeploymentState) -> list[Any]:
    changed = events(store, EventType.RUNTIME_DEPLOYMENT_STATE_CHANGED)
    return [event for event in changed if to.value in event.data.values()]


def test_a_last_gate_records_health_gating_once() -> None:
    store, health = world(), ScriptedHealthProbe()
    request = gate_request(gating=Gating("approved"))
    assert run(store, health, request)["verdict"] == "passed"
    assert store.deployments.get_deployment(RECORD.id).state is DeploymentState.HEALTH_GATING
    assert len(state_changes(store, DeploymentState.HEALTH_GATING)) == 1
    again = gate_request(gating=Gating("approved"), event_id="gate-2")  # another service's last gate
    assert run(store, health, again)["verdict"] == "passed"
    assert len(state_changes(store, DeploymentState.HEALTH_GATING)) == 1
    transitions = store.deployments.get_deployment(RECORD.id).transitions
    assert [t.target for t in transitions].count(DeploymentState.HEALTH_GATING) == 1


def test_a_gate_records_no_health_gating_from_rolling_back() -> None:
    store, health = world(ROLLING_BACK_PATH), ScriptedHealthProbe()
    assert run(store, health, gate_request(gating=Gating("approved")))["verdict"] == "stopped"
    assert store.deployments.get_deployment(RECORD.id).state is DeploymentState.ROLLING_BACK
    assert state_changes(store, DeploymentState.HEALTH_GATING) == []


def test_events_are_timed_by_the_request_stamp_and_the_interval() -> None:
    store, health = world(), ScriptedHealthProbe()
    run(store, health, gate_request(), Clock(T0 + timedelta(minutes=7)))  # the wall clock is not in the log
    micro = timedelta(microseconds=1)
    probes = [event.time for event in events(store, EventType.HEALTH_CHECK_COMPLETED)]
    assert probes == [T0 + micro, T0 + timedelta(seconds=5) + micro, T0 + timedelta(seconds=10) + micro]
    [decided] = events(store, EventType.RUNTIME_HEALTH_GATE_COMPLETED)
    assert decided.time == T0 + timedelta(seconds=10) + 2 * micro


def test_a_call_run_again_records_no_duplicate_rows() -> None:
    store, health = world(), ScriptedHealthProbe()
    request = gate_request(gating=Gating("approved"))
    first = run(store, health, request)
    logged = [(event.id, event.time) for event in store.event_log.events_for_trace(RECORD.traceid)]
    second = run(store, health, request, Clock(T0 + timedelta(seconds=40)))
    assert first == second
    assert [(event.id, event.time) for event in store.event_log.events_for_trace(RECORD.traceid)] == logged


def test_wait_until_is_true_at_the_time() -> None:
    store, clock = world(), Clock()
    until = T0 + timedelta(seconds=12)
    done = asyncio.run(rollout_wait.wait_until(store.deployments, RECORD.id, until, clock.now, sleep=clock.sleep))
    assert done is True and clock.at == until
    assert clock.slept == [5.0, 5.0, 2.0]


def test_wait_until_is_false_as_soon_as_the_deployment_leaves_the_states() -> None:
    store, clock = world(), Clock()

    async def sleep_then_roll_back(seconds: float) -> None:
        await clock.sleep(seconds)
        store.deployments.update_deployment(RECORD.id, lambda d: d.advance(DeploymentState.ROLLING_BACK, clock.at))

    until = T0 + timedelta(minutes=10)
    done = asyncio.run(
        rollout_wait.wait_until(store.deployments, RECORD.id, until, clock.now, sleep=sleep_then_roll_back)
    )
    assert done is False and clock.slept == [5.0]


def test_wait_until_returns_false_at_once_outside_the_states() -> None:
    store, clock = world(ROLLING_BACK_PATH), Clock()
    done = asyncio.run(
        rollout_wait.wait_until(store.deployments, RECORD.id, T0 + timedelta(hours=1), clock.now, sleep=clock.sleep)
    )
    assert done is False and clock.slept == []


def test_local_moves_an_orchestration_moment_onto_the_activity_clock() -> None:
    scheduled, started = T0, T0 + timedelta(seconds=90)
    assert rollout_wait.local(T0 + timedelta(seconds=30), scheduled, started) == T0 + timedelta(seconds=120)
    assert rollout_wait.local(T0, scheduled, T0 - timedelta(seconds=5)) == T0 - timedelta(seconds=5)


def health_gating_from_rolling_out(store: Stores, bus: RecordingEventBus) -> dict[str, Any]:
    only_from = (DeploymentState.ROLLING_OUT,)
    target, event_id = DeploymentState.HEALTH_GATING, "ev-hg"
    ports = (store.deployments, store.claims, store.event_log, bus, "/tests")
    return deployments.transition(*ports, RECORD.id, target, "approved", T0, event_id, only_from=only_from)


def test_transition_only_from_another_state_records_and_emits_nothing() -> None:
    store, bus = world(ROLLING_BACK_PATH), RecordingEventBus()
    before = store.deployments.get_deployment(RECORD.id)
    answer = health_gating_from_rolling_out(store, bus)
    assert answer == {"state": "RollingBack"}
    assert store.deployments.get_deployment(RECORD.id).transitions == before.transitions
    assert store.event_log.events_for_trace(RECORD.traceid) == [] and bus.published == []


def test_transition_only_from_the_named_state_moves() -> None:
    store, bus = world(), RecordingEventBus()
    answer = health_gating_from_rolling_out(store, bus)
    assert answer["state"] == "HealthGating"
    assert store.deployments.get_deployment(RECORD.id).state is DeploymentState.HEALTH_GATING
    assert [event.id for event in state_changes(store, DeploymentState.HEALTH_GATING)] == ["ev-hg"]


class SteppingClock:
    """A clock that moves on by ``step`` each time it is read: ``wait_for_due`` sleeps with asyncio's own sleep, and
    with this clock its wait is over by the time it looks (it never sleeps)."""

    def __init__(self, step: timedelta) -> None:
        self.at, self.step = T0, step

    def now(self) -> datetime:
        read, self.at = self.at, self.at + self.step
        return read


def wait_for_due(store: Stores, due: datetime) -> dict[str, Any] | None:
    clock = SteppingClock(timedelta(minutes=3))  # past the call budget at its first look
    return asyncio.run(analysis.wait_for_due(store.deployments, RECORD.id, due, T0, now=clock.now))


def test_wait_for_due_answers_waiting_when_the_measurement_is_due_after_the_call_budget() -> None:
    assert wait_for_due(world(), T0 + timedelta(hours=1)) == {"waiting": True}


def test_wait_for_due_answers_none_once_the_measurement_is_due() -> None:
    assert wait_for_due(world(), T0 + timedelta(minutes=4)) is None
    promoting = (*ROLLING_OUT_PATH, DeploymentState.HEALTH_GATING, DeploymentState.PROMOTING)
    assert wait_for_due(world(promoting), T0 + timedelta(minutes=4)) is None


def test_wait_for_due_answers_stopped_once_the_release_is_rolling_back() -> None:
    assert wait_for_due(world(ROLLING_BACK_PATH), T0 + timedelta(minutes=4)) == {"stopped": True}
