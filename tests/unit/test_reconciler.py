"""The deployment reconciler on in-memory ports: what it ends, how, and that racing runs end a deployment once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from controlplane.domain.deployment import DeploymentState
from controlplane.domain.rollout.target import revision_name
from controlplane.domain.workflow.orchestration import OrchestrationStatus, RuntimeStatus
from controlplane.services import rollout
from controlplane.services.reconciler import DEFAULT_GRACE, Reconciler, Stuck, stuck_deployments
from tests.builders import ROLLING_OUT_PATH, walked
from tests.builders import release as two_services
from tests.workflow_world import World, release
from triggers.reconcile import reconciler_over

ENDINGS = {"RuntimeDeploymentCompleted", "RuntimeDeploymentRolledBack", "RuntimeDeploymentFailed"}
TERMINATED = OrchestrationStatus(RuntimeStatus.TERMINATED, "terminated through the Durable webhook")


def reconciler(world: World) -> Reconciler:
    return reconciler_over(world.store, world.bus, world.compute, "/tests/reconciler")


def trace_types(world: World, deployment_id: str) -> list[str]:
    traceid = world.store.deployments.get_deployment(deployment_id).traceid
    return [envelope.type for envelope in world.store.event_log.events_for_trace(traceid)]


def endings(world: World, deployment_id: str) -> list[str]:
    return [kind for kind in trace_types(world, deployment_id) if kind in ENDINGS]


def test_a_terminated_rollout_is_rolled_back_onto_the_stable_revision(world: World) -> None:
    stable = world.seed_completed(release("1.0.0"))
    rolling = world.seed_in_flight(release("2.0.0"), new_percent=50)
    now = datetime.now(UTC)

    ended = reconciler(world).reconcile({rolling.id: TERMINATED}.get, now)

    assert [d.id for d in ended] == [rolling.id]
    done = world.store.deployments.get_deployment(rolling.id)
    assert [t.target for t in done.transitions[-2:]] == [DeploymentState.ROLLING_BACK, DeploymentState.ROLLED_BACK]
    assert done.transitions[-1].reason == "orchestration Terminated: terminated through the Durable webhook"
    served = world.store.catalog.get_catalog_entry("dev", "orders").revision
    traffic = {w.revision: w.traffic_percent for w in world.compute.inventory("dev")}
    assert traffic[served] == 100 and sum(traffic.values()) == 100
    assert endings(world, rolling.id) == ["RuntimeDeploymentRolledBack"]
    rolled_back = [e for e in world.bus.published if e.type == "RuntimeDeploymentRolledBack"][-1]
    assert rolled_back.data["restoredDeploymentId"] == stable.id
    assert world.accept(release("2.0.1")).created, "the service's claim was released"


def test_a_first_release_terminated_mid_rollout_fails_with_an_incident_and_its_revision_stopped(world: World) -> None:
    accepted = world.accept(release("1.0.0")).deployment  # the world starts empty: no stable revision
    rolling = world.store.deployments.update_deployment(accepted.id, lambda d: walked(d, ROLLING_OUT_PATH))
    failed = OrchestrationStatus(RuntimeStatus.FAILED, "Orchestrator function 'deployment' failed: boom")

    reconciler(world).reconcile({rolling.id: failed}.get, datetime.now(UTC))

    done = world.store.deployments.get_deployment(rolling.id)
    assert done.state is DeploymentState.FAILED
    assert done.transitions[-1].reason == "orchestration Failed: Orchestrator function 'deployment' failed: boom"
    assert trace_types(world, rolling.id)[-2:] == ["RuntimeDeploymentFailed", "RuntimeIncidentRaised"]
    assert endings(world, rolling.id) == ["RuntimeDeploymentFailed"]


def test_a_deployment_without_an_orchestration_is_failed_only_after_the_grace_period(world: World) -> None:
    accepted = world.accept(release("1.0.0")).deployment  # accepted, then the host died before starting it
    repairs = reconciler(world)
    nobody: dict[str, OrchestrationStatus] = {}

    assert repairs.reconcile(nobody.get, accepted.created_at + DEFAULT_GRACE / 2) == []
    assert world.store.deployments.get_deployment(accepted.id).state is DeploymentState.REQUESTED
    repairs.reconcile(nobody.get, accepted.created_at + DEFAULT_GRACE)

    done = world.store.deployments.get_deployment(accepted.id)
    assert done.state is DeploymentState.FAILED
    assert done.transitions[-1].reason == "orchestration not found (purged, or never started)"
    assert endings(world, accepted.id) == ["RuntimeDeploymentFailed"]
    assert "RuntimeIncidentRaised" not in trace_types(world, accepted.id), "nothing was rolled out"


def test_running_orchestrations_and_terminal_deployments_are_left_alone(world: World) -> None:
    world.seed_completed(release("1.0.0"))
    rolling = world.seed_in_flight(release("2.0.0"), new_percent=10)
    statuses = {rolling.id: OrchestrationStatus(RuntimeStatus.RUNNING)}
    later = datetime.now(UTC) + timedelta(days=1)

    assert reconciler(world).reconcile(statuses.get, later) == []
    assert stuck_deployments(world.store.deployments, statuses.get, later, DEFAULT_GRACE) == []
    assert world.store.deployments.get_deployment(rolling.id).state is DeploymentState.ROLLING_OUT


def test_a_completed_orchestration_that_left_its_deployment_unended_is_counted_and_ended(world: World) -> None:
    accepted = world.accept(release("1.0.0")).deployment
    statuses = {accepted.id: OrchestrationStatus(RuntimeStatus.COMPLETED, '{"state": "Completed"}')}
    now = datetime.now(UTC)

    stuck = stuck_deployments(world.store.deployments, statuses.get, now, DEFAULT_GRACE)
    assert [(s.deployment.id, s.why) for s in stuck] == [
        (accepted.id, "orchestration Completed without ending the deployment")
    ]
    reconciler(world).reconcile(statuses.get, now)
    assert stuck_deployments(world.store.deployments, statuses.get, now, DEFAULT_GRACE) == []


def test_racing_reconcilers_end_a_deployment_once_with_one_terminal_event(world: World) -> None:
    world.seed_completed(release("1.0.0"))
    rolling = world.seed_in_flight(release("2.0.0"), new_percent=50)
    now = datetime.now(UTC)
    stale = Stuck(rolling, "orchestration Terminated: raced")
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            reconciler(world).end(stale, now)
        except BaseException as error:  # reported below, in the test thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reconciler(world).end(stale, now)  # a late one, from the same stale read

    assert errors == []
    done = world.store.deployments.get_deployment(rolling.id)
    assert [t.target for t in done.transitions].count(DeploymentState.ROLLED_BACK) == 1
    assert endings(world, rolling.id) == ["RuntimeDeploymentRolledBack"]
    assert len([e for e in world.bus.published if e.type == "RuntimeDeploymentRolledBack"]) == 1


def test_reconcile_one_ends_an_idle_deployment_at_once_and_returns_a_running_one_unchanged(world: World) -> None:
    accepted = world.accept(release("1.0.0")).deployment
    repairs = reconciler(world)
    running = {accepted.id: OrchestrationStatus(RuntimeStatus.PENDING)}
    assert repairs.reconcile_one(accepted.id, running.get, datetime.now(UTC)).state is DeploymentState.REQUESTED
    gone: dict[str, OrchestrationStatus] = {}
    assert repairs.reconcile_one(accepted.id, gone.get, datetime.now(UTC)).state is DeploymentState.FAILED


def test_orchestration_status_reads_the_durable_status_document_without_tracebacks() -> None:
    failed = OrchestrationStatus.from_json(
        {"runtimeStatus": "Failed", "output": "Orchestrator function 'deployment' failed: boom\nTraceback (most recent"}
    )
    assert failed == OrchestrationStatus(RuntimeStatus.FAILED, "Orchestrator function 'deployment' failed: boom")
    assert OrchestrationStatus.from_json({"runtimeStatus": "Running", "output": None}) == OrchestrationStatus(
        RuntimeStatus.RUNNING
    )
    assert OrchestrationStatus.from_json({}) is None and OrchestrationStatus.from_json(None) is None
    completed = OrchestrationStatus.from_json({"runtimeStatus": "Completed", "output": {"state": "Completed"}})
    assert completed is not None and completed.ended and completed.output == '{"state": "Completed"}'


def test_a_service_promoted_before_the_orchestration_ended_stays_and_the_others_roll_back(world: World) -> None:
    world.seed_completed(two_services(services=("orders", "payments"), tag="1.0.0"))
    rolling = world.seed_in_flight(two_services(services=("orders", "payments"), tag="2.0.0"), new_percent=100)
    promoting = world.store.deployments.update_deployment(
        rolling.id,
        lambda d: d.advance(DeploymentState.HEALTH_GATING, d.updated_at).advance(
            DeploymentState.PROMOTING, d.updated_at
        ),
    )
    (orders, _) = rollout.targets(world.store.deployments, world.store.catalog, promoting.id)
    rollout.record_promotion(
        world.store.deployments, world.store.catalog, world.store.quarantine, promoting.id, orders, datetime.now(UTC)
    )

    reconciler(world).reconcile({promoting.id: TERMINATED}.get, datetime.now(UTC))

    done = world.store.deployments.get_deployment(promoting.id)
    assert done.state is DeploymentState.ROLLED_BACK
    assert done.transitions[-1].reason.endswith("; promoted already, kept: orders")
    traffic = {w.revision: w.traffic_percent for w in world.compute.inventory("dev") if w.service == "orders"}
    assert traffic[revision_name("orders", promoting.id)] == 100  # the catalog's revision still serves
    assert world.store.catalog.get_catalog_entry("dev", "payments").deployment_id != promoting.id
    assert endings(world, promoting.id) == ["RuntimeDeploymentRolledBack"]
