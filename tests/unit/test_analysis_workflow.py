"""Metric analysis in the deployment workflow, through the durable engine's real SDK replay with in-memory ports:
the analysis decides beside the health gate, an inconclusive analysis holds for an operator, and after promotion
it keeps measuring before the stable revision is retired."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controlplane.bootstrap import ports, use_ports
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.events import Envelope
from controlplane.domain.manifest import Release, parse_release
from controlplane.testing.analysis import ScriptedAnalysis
from funchost.durable.engine import DurableEngine
from funchost.durable.store import DurableStore
from tests import product_app
from tests.builders import release_document
from tests.unit.test_deployment_workflow import person, signal, states
from tests.workflow_world import World, release

METRIC = "request-success-rate"
CANARY = {"type": "Canary", "steps": [{"weight": 50}, {"weight": 100}]}
STRAIGHT = {"type": "Canary", "steps": [{"weight": 100}]}  # one gate, all traffic on the new revision
NO_DEADLINE = {"intervalSeconds": 1, "successThreshold": 1, "failureThreshold": 1, "progressDeadlineSeconds": 86400}


class ClockWorld(World):
    """The workflow world on an engine whose clock (by which durable timers fire) a test moves forward: a hold's
    minutes-long timeout passes at once, and so does the progress deadline, which a hold must not cut short."""

    def __init__(self, tmp: Path) -> None:
        self.ahead = timedelta(0)
        super().__init__(tmp)

    def start_engine(self) -> DurableEngine:
        engine = DurableEngine(product_app.index(), DurableStore(self.history, "Workflow"), clock=self.now)
        engine.start()
        return engine

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def pass_hold(self, deployment_id: str, seconds: int, number: int = 1) -> None:
        """Move the clock ``seconds`` on, as often as it takes, until hold ``number`` of ``deployment_id`` times
        out (a move before the hold's timer exists is time the analysis spent, which no deadline counts)."""
        deadline = time.monotonic() + 10
        while len(events(self, deployment_id, "RuntimeAnalysisHoldResolved")) < number:
            assert time.monotonic() < deadline, f"hold {number} of {deployment_id} never timed out"
            if len(events(self, deployment_id, "RuntimeAnalysisHeld")) >= number:
                self.ahead += timedelta(seconds=seconds)
            time.sleep(0.2)


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[ClockWorld]:
    world = ClockWorld(tmp_path)
    yield world
    world.engine.stop()
    use_ports(None)


def scripted() -> ScriptedAnalysis:
    analysis = ports().analysis
    assert isinstance(analysis, ScriptedAnalysis)
    return analysis


def analysed(tag: str, strategy: dict[str, Any], **analysis: Any) -> Release:
    """A release of orders with the success-rate analysis (count 1 unless ``metric`` says otherwise)."""
    metric = {"name": METRIC, "builtin": "requestSuccessRate", "threshold": {"min": 0.95}, "count": 1}
    metric.update(analysis.pop("metric", {}))
    spec = {"provider": {"type": "router"}, "intervalSeconds": 1, "metrics": [metric], **analysis}
    return release(tag, strategy, analysis=spec, healthGate=NO_DEADLINE)


def events(world: World, deployment_id: str, kind: str | None = None) -> list[Envelope]:
    traceid = world.store.deployments.get_deployment(deployment_id).traceid
    logged = world.store.event_log.events_for_trace(traceid)
    return [event for event in logged if kind is None or event.type == kind]


def live(world: World) -> dict[str, tuple[int, int]]:
    return {w.revision: (w.replicas, w.traffic_percent) for w in world.compute.inventory("dev")}


def test_a_healthy_canary_whose_requests_fail_is_rolled_back_by_analysis(world: World) -> None:
    stable = world.seed_completed(release("1.0.0")).id
    scripted().script("orders", METRIC, 0.8, 0.99, 0.8)  # F P F with failureLimit 1: failed at the third
    deployment_id = world.deploy(analysed("2.0.0", CANARY, metric={"count": 3, "failureLimit": 1}))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    [rolled_back] = events(world, deployment_id, "RuntimeDeploymentRolledBack")
    reason = rolled_back.data["reason"]
    assert reason.startswith("analysis failed for orders at gate 1 (canary step 1: 50% traffic on 1 replicas): ")
    assert "request-success-rate 0.8 < min 0.95 (2 of 3 measurements failed, failureLimit 1)" in reason
    new = f"orders--{deployment_id.removeprefix('dep-')}"
    assert f"query: scripted requestSuccessRate of {new}" in reason
    [gate] = events(world, deployment_id, "RuntimeHealthGateCompleted")
    assert (gate.data["gate"], gate.data["verdict"], gate.data["revision"]) == (1, "passed", new)
    measured = events(world, deployment_id, "RuntimeAnalysisMeasured")
    assert [(m.data["measurement"], m.data["value"], m.data["verdict"]) for m in measured] == [
        (1, 0.8, "failed"),
        (2, 0.99, "passed"),
        (3, 0.8, "failed"),
    ]
    assert measured[0].data["query"] == f"scripted requestSuccessRate of {new}"
    assert measured[0].data["threshold"] == {"min": 0.95, "max": None, "shown": ">= 0.95"}
    assert measured[0].data["windowSeconds"] == 1
    [completed] = events(world, deployment_id, "RuntimeAnalysisCompleted")
    assert completed.data["verdict"] == "failed" and completed.data["reason"] in reason
    assert completed.data["metrics"] == [
        {"metric": METRIC, "passed": 1, "failed": 2, "inconclusive": 0, "verdict": "failed"}
    ]
    assert all(query.revision == new for query in scripted().queries), "only the new revision is measured"
    old = f"orders--{stable.removeprefix('dep-')}"
    assert live(world)[old] == (2, 100)
    assert world.store.catalog.get_catalog_entry("dev", "orders").deployment_id == stable


def test_a_canary_whose_analysis_passes_at_every_gate_completes(world: World) -> None:
    world.seed_completed(release("1.0.0"))
    scripted().script("orders", METRIC, 0.99)
    deployment_id = world.deploy(analysed("2.0.0", CANARY))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    gates = [
        (e.data["gate"], e.data["step"], e.data["verdict"])
        for e in events(world, deployment_id)
        if e.type in ("RuntimeHealthGateCompleted", "RuntimeAnalysisCompleted")
    ]
    assert gates == [
        (1, "canary step 1: 50% traffic on 1 replicas", "passed"),
        (1, "canary step 1: 50% traffic on 1 replicas", "passed"),
        (2, "canary step 2: 100% traffic on 2 replicas", "passed"),
        (2, "canary step 2: 100% traffic on 2 replicas", "passed"),
    ]
    [first, _] = events(world, deployment_id, "RuntimeAnalysisCompleted")
    assert first.data["reason"] == "request-success-rate >= 0.95 in 1 of 1 measurements (last 0.99)"
    assert len(events(world, deployment_id, "RuntimeAnalysisMeasured")) == 2


def test_a_metric_outage_holds_the_rollout_until_an_operator_approves(world: World) -> None:
    stable = world.seed_completed(release("1.0.0")).id
    scripted().down = True
    deployment_id = world.deploy(analysed("2.0.0", CANARY))
    world.wait_for_custom_status(deployment_id, "inconclusive analysis")
    status = world.engine.get_record(deployment_id).custom_status or ""
    assert '"waiting": "approve"' in status and "orders at gate 1" in status
    assert world.store.deployments.get_deployment(deployment_id).state is DeploymentState.ROLLING_OUT
    [held] = events(world, deployment_id, "RuntimeAnalysisHeld")
    assert held.data["actionRequired"] is True and held.data["gate"] == 1
    assert "request-success-rate: no value (router: connection refused (scripted outage))" in held.data["reason"]
    assert events(world, deployment_id, "RuntimeDeploymentApprovalRequested")
    assert world.store.catalog.get_catalog_entry("dev", "orders").deployment_id == stable, "never promoted"
    assert not events(world, deployment_id, "RuntimeDeploymentRolledBack"), "never rolled back"

    scripted().down = False
    scripted().script("orders", METRIC, 0.99)
    world.engine.raise_event(deployment_id, "approve", signal("ana", "the metrics store was down"))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    [resolved] = events(world, deployment_id, "RuntimeAnalysisHoldResolved")
    assert (resolved.data["resolution"], resolved.data["action"]) == ("approved", "continue")
    assert resolved.data["actor"] == person("ana").to_dict()
    assert world.store.catalog.get_catalog_entry("dev", "orders").deployment_id == deployment_id


def test_an_abort_of_a_hold_rolls_back(world: World) -> None:
    world.seed_completed(release("1.0.0"))
    scripted().down = True
    deployment_id = world.deploy(analysed("2.0.0", CANARY))
    world.wait_for_custom_status(deployment_id, "inconclusive analysis")
    world.engine.raise_event(deployment_id, "abort", signal("ana", "no metrics, no release"))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    [resolved] = events(world, deployment_id, "RuntimeAnalysisHoldResolved")
    assert (resolved.data["resolution"], resolved.data["action"]) == ("aborted", "rollback")
    [rolled_back] = events(world, deployment_id, "RuntimeDeploymentRolledBack")
    assert rolled_back.data["reason"].startswith("aborted by ana: no metrics, no release")


@pytest.mark.parametrize(("on_timeout", "ends"), [("rollback", "RolledBack"), ("continue", "Completed")])
def test_a_hold_nobody_decides_ends_by_its_timeout_policy(clocked: ClockWorld, on_timeout: str, ends: str) -> None:
    clocked.seed_completed(release("1.0.0"))
    scripted().down = True
    policy = {"timeoutSeconds": 60, "onTimeout": on_timeout}
    deployment_id = clocked.deploy(analysed("2.0.0", STRAIGHT, inconclusive=policy))
    clocked.pass_hold(deployment_id, 61)
    assert clocked.finish(deployment_id).value == ends
    [held] = events(clocked, deployment_id, "RuntimeAnalysisHeld")
    assert (held.data["timeoutSeconds"], held.data["onTimeout"]) == (60, on_timeout)
    [resolved] = events(clocked, deployment_id, "RuntimeAnalysisHoldResolved")
    assert (resolved.data["resolution"], resolved.data["action"], resolved.data["actor"]) == (
        "timed-out",
        on_timeout,
        None,
    )
    assert held.time < resolved.time
    if on_timeout == "rollback":
        [rolled_back] = events(clocked, deployment_id, "RuntimeDeploymentRolledBack")
        assert "timed out after 60 s (onTimeout rollback)" in rolled_back.data["reason"]


def test_the_progress_deadline_does_not_count_a_hold(clocked: ClockWorld) -> None:
    clocked.seed_completed(release("1.0.0"))
    scripted().down = True
    gate = {**NO_DEADLINE, "progressDeadlineSeconds": 30}
    canary = analysed("2.0.0", CANARY, inconclusive={"timeoutSeconds": 60, "onTimeout": "continue"})
    deployment_id = clocked.deploy(
        parse_release({**canary.to_dict(), "spec": {**canary.to_dict()["spec"], "healthGate": gate}})
    )
    clocked.pass_hold(deployment_id, 61)  # gate 1 holds twice the deadline, then goes on
    clocked.pass_hold(deployment_id, 61, 2)  # gate 2, probed after the deadline passed on the clock, holds too
    assert clocked.finish(deployment_id) is DeploymentState.COMPLETED
    gates = [(e.data["gate"], e.data["verdict"]) for e in events(clocked, deployment_id, "RuntimeHealthGateCompleted")]
    assert gates == [(1, "passed"), (2, "passed")]
    assert len(events(clocked, deployment_id, "RuntimeAnalysisHoldResolved")) == 2


def test_analysis_after_promotion_that_fails_rolls_back_before_the_stable_revision_is_retired(world: World) -> None:
    stable = world.seed_completed(release("1.0.0")).id
    old = f"orders--{stable.removeprefix('dep-')}"
    scripted().script("orders", METRIC, 0.99, 0.5)  # the gate passes; after promotion the first measurement fails
    deployment_id = world.deploy(analysed("2.0.0", STRAIGHT, afterPromotionSeconds=2))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert states(world, deployment_id)[-3:] == ["Promoting", "RollingBack", "RolledBack"]
    [_, after] = events(world, deployment_id, "RuntimeAnalysisCompleted")
    assert (after.data["gate"], after.data["step"], after.data["verdict"]) == (
        2,
        "after promotion: all traffic on the new revision for 2s",
        "failed",
    )
    retired = [call for call in world.compute.calls if call[0] == "scale" and call[3] == old and call[4] == 0]
    assert not retired, "the stable revision was never scaled down"
    assert live(world)[old] == (2, 100)
    assert world.store.catalog.get_catalog_entry("dev", "orders").deployment_id == stable


def test_analysis_after_promotion_measures_until_its_time_is_up_then_retires_the_stable_revision(
    world: World,
) -> None:
    stable = world.seed_completed(release("1.0.0")).id
    old = f"orders--{stable.removeprefix('dep-')}"
    scripted().script("orders", METRIC, 0.99)
    deployment_id = world.deploy(analysed("2.0.0", STRAIGHT, afterPromotionSeconds=2))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    after = [e for e in events(world, deployment_id, "RuntimeAnalysisMeasured") if e.data["gate"] == 2]
    assert [e.data["measurement"] for e in after] == [1, 2], "count 1 is met, but 2 s had not passed after one"
    [completed] = [e for e in events(world, deployment_id, "RuntimeAnalysisCompleted") if e.data["gate"] == 2]
    logged = events(world, deployment_id)
    assert logged.index(completed) < logged.index(events(world, deployment_id, "RuntimeDeploymentCompleted")[0])
    assert live(world)[old][0] == 0


def test_an_abort_between_measurements_rolls_back_without_waiting_for_the_next_one(world: World) -> None:
    world.seed_completed(release("1.0.0"))
    deployment_id = world.deploy(analysed("2.0.0", STRAIGHT, intervalSeconds=3600))
    deadline = time.monotonic() + 10
    while not events(world, deployment_id, "RuntimeHealthGateCompleted"):
        assert time.monotonic() < deadline, "the health gate never decided"
        time.sleep(0.02)
    world.engine.raise_event(deployment_id, "abort", signal("ana", "enough"))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert not scripted().queries, "aborted before the first measurement was due"
    [rolled_back] = events(world, deployment_id, "RuntimeDeploymentRolledBack")
    assert rolled_back.data["reason"] == "aborted by ana: enough"


def test_services_are_measured_together_after_promotion_and_one_failing_rolls_back_the_release(world: World) -> None:
    def two_services(tag: str, **spec: Any) -> Release:
        document = release_document(services=("orders", "billing"), tag=tag)
        document["spec"].update(strategy=STRAIGHT, healthGate=NO_DEADLINE, **spec)
        return parse_release(document)

    stable = world.seed_completed(two_services("1.0.0")).id
    metric = {"name": METRIC, "builtin": "requestSuccessRate", "threshold": {"min": 0.95}, "count": 1}
    analysis = {"provider": {"type": "router"}, "intervalSeconds": 1, "metrics": [metric], "afterPromotionSeconds": 2}
    scripted().script("orders", METRIC, 0.99)
    scripted().script("billing", METRIC, 0.99, 0.5)  # billing's gate passes, its first measurement after fails
    deployment_id = world.deploy(two_services("2.0.0", analysis=analysis))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    after = [e for e in events(world, deployment_id) if e.data.get("step", "").startswith("after promotion")]
    # One round measures both; billing fails in it, so orders (passed, but its 2 s are not up) is measured no more.
    measured = [(e.data["service"], e.data["measurement"]) for e in after if e.type == "RuntimeAnalysisMeasured"]
    assert sorted(measured) == [("billing", 1), ("orders", 1)]
    assert [e.type for e in after][2:] == ["RuntimeAnalysisCompleted", "RuntimeAnalysisCompleted"]
    verdicts = {e.data["service"]: e.data["verdict"] for e in after if e.type == "RuntimeAnalysisCompleted"}
    assert verdicts == {"orders": "measuring", "billing": "failed"}
    [rolled_back] = events(world, deployment_id, "RuntimeDeploymentRolledBack")
    assert rolled_back.data["reason"].startswith("analysis failed for billing at gate 2 (after promotion")
    for service in ("orders", "billing"):
        assert world.store.catalog.get_catalog_entry("dev", service).deployment_id == stable
        assert live(world)[f"{service}--{stable.removeprefix('dep-')}"] == (2, 100)


class AbortWhileMeasuring(ScriptedAnalysis):
    """No data, and an operator's abort raised while the measurement runs: it reaches the orchestration while it
    runs an activity between two waits, after an interval's wait was abandoned for its timer."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.deployment_id = ""

    def measure(self, query: Any) -> Any:
        if not self.queries:
            self.world.engine.raise_event(self.deployment_id, "abort", signal("ana", "stop it"))
        return super().measure(query)


def test_an_abort_that_arrives_between_two_waits_is_not_lost(world: World) -> None:
    world.seed_completed(release("1.0.0"))
    analysis = AbortWhileMeasuring(world)
    use_ports(replace(ports(), analysis=analysis))
    deployment_id = world.deploy(analysed("2.0.0", STRAIGHT))
    analysis.deployment_id = deployment_id  # the first measurement comes an interval (1 s) after the health gate
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    [rolled_back] = events(world, deployment_id, "RuntimeDeploymentRolledBack")
    assert rolled_back.data["reason"].startswith("aborted by ana: stop it")
