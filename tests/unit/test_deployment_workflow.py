"""The deployment workflow through the durable engine's real SDK replay, with in-memory ports."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from controlplane.bootstrap import ports, use_ports
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.health import HealthStatus
from controlplane.domain.manifest import Release, parse_release
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.errors import NotFound, PermanentError
from controlplane.services import deployments
from controlplane.testing.fakes import RecordingProvisioner
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from tests.builders import release_document
from tests.workflow_world import FAST_GATE, World, release


def states(world: World, deployment_id: str) -> list[str]:
    return [t.target.value for t in world.store.deployments.get_deployment(deployment_id).transitions]


def event_types(world: World, deployment_id: str) -> list[str]:
    traceid = world.store.deployments.get_deployment(deployment_id).traceid
    return [event.type for event in world.store.event_log.events_for_trace(traceid)]


def test_a_rolling_release_completes_and_is_recorded_in_the_catalog(world: World) -> None:
    deployment_id = world.deploy(release("1.0.0"))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    assert states(world, deployment_id) == [
        "Requested",
        "Provisioning",
        "Configuring",
        "RollingOut",
        "HealthGating",
        "Promoting",
        "Completed",
    ]
    entry = world.store.catalog.get_catalog_entry("dev", "orders")
    assert (entry.deployment_id, entry.image, entry.replicas) == (deployment_id, "example.azurecr.io/orders:1.0.0", 2)
    (workload,) = world.compute.inventory("dev")
    assert (workload.revision, workload.replicas, workload.traffic_percent) == (entry.revision, 2, 100)
    kinds = event_types(world, deployment_id)
    assert kinds[0] == "RuntimeDeploymentRequested" and kinds[-1] == "RuntimeDeploymentCompleted"
    assert "RuntimeEnvironmentProvisioned" in kinds and "HealthCheckCompleted" in kinds
    logged = world.store.event_log.events_for_trace(world.store.deployments.get_deployment(deployment_id).traceid)
    assert len({e.id for e in logged}) == len(logged), "no duplicate event ids"
    assert [e.id for e in world.bus.published] == [e.id for e in logged] or len(world.bus.published) >= len(logged)


def test_a_canary_shifts_traffic_by_its_steps_after_a_stable_release(world: World) -> None:
    world.finish(world.deploy(release("1.0.0")))
    canary = {
        "type": "Canary",
        "steps": [{"weight": 20, "pause": {"durationSeconds": 1}}, {"weight": 50}, {"weight": 100}],
    }
    deployment_id = world.deploy(release("2.0.0", canary))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    new = world.store.catalog.get_catalog_entry("dev", "orders").revision
    weights = [call[3].get(new) for call in world.compute.calls if call[0] == "set_traffic"]
    assert [w for w in weights if w is not None][-3:] == [20, 50, 100]
    assert {w.revision: w.replicas for w in world.compute.inventory("dev")}[new] == 2
    # The progress keeps each traffic change once, in order, with its time: the Runtime Center's traffic plot.
    history = world.store.deployments.get_deployment(deployment_id).services["orders"].traffic_history
    assert [point.percent for point in history] == [20, 50, 100]
    assert [point.at for point in history] == sorted(point.at for point in history)


def test_a_failed_gate_rolls_traffic_back_to_the_stable_revision(world: World) -> None:
    first = world.deploy(release("1.0.0"))
    world.finish(first)
    stable = world.store.catalog.get_catalog_entry("dev", "orders").revision
    world.health.statuses["orders--"] = HealthStatus.HEALTHY
    bad = release("3.0.0")
    world.health.statuses = {
        f"orders--{first.removeprefix('dep-')}": HealthStatus.HEALTHY,
        "orders--": HealthStatus.UNHEALTHY,
    }
    deployment_id = world.deploy(bad)
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert states(world, deployment_id)[-2:] == ["RollingBack", "RolledBack"]
    live = {w.revision: (w.replicas, w.traffic_percent) for w in world.compute.inventory("dev")}
    assert live[stable] == (2, 100)
    assert world.store.catalog.get_catalog_entry("dev", "orders").revision == stable
    rolled_back = [
        e
        for e in world.store.event_log.events_for_trace(world.store.deployments.get_deployment(deployment_id).traceid)
        if e.type == "RuntimeDeploymentRolledBack"
    ]
    assert len(rolled_back) == 1 and rolled_back[0].data["restoredDeploymentId"] == first
    assert rolled_back[0].data["restoredHealth"] == {"orders": "Healthy"}
    history = world.store.deployments.get_deployment(deployment_id).services["orders"].traffic_history
    assert history[-1].percent == 0
    assert "Unhealthy by script" in rolled_back[0].data["reason"]


def test_a_first_release_that_fails_its_gate_ends_failed_and_raises_an_incident(world: World) -> None:
    world.health.statuses = {"orders--": HealthStatus.UNHEALTHY}
    deployment_id = world.deploy(release("1.0.0"))
    assert world.finish(deployment_id) is DeploymentState.FAILED
    assert states(world, deployment_id)[-2:] == ["RollingBack", "Failed"]
    assert event_types(world, deployment_id)[-2:] == ["RuntimeDeploymentFailed", "RuntimeIncidentRaised"]
    assert all(w.replicas == 0 for w in world.compute.inventory("dev"))


def signal(by: str, reason: str, *, sdk: bool = True) -> str:
    """An operator's signal as the event's stored value: the SDK's raise_event encodes its data twice (once
    itself, once as the request's JSON) and the extension keeps the inner text; a caller posting to the Durable
    HTTP API itself encodes it once."""
    payload = json.dumps({"by": by, "reason": reason})
    return json.dumps(payload) if sdk else payload


MANUAL_CANARY = {"type": "Canary", "steps": [{"weight": 50, "pause": {"untilApproved": True}}, {"weight": 100}]}


def test_a_manual_canary_pause_waits_for_approval_and_records_who_gave_it(world: World) -> None:
    world.finish(world.deploy(release("1.0.0")))
    deployment_id = world.deploy(release("2.0.0", MANUAL_CANARY))
    world.wait_for_custom_status(deployment_id, "approve")
    assert world.store.deployments.get_deployment(deployment_id).state is DeploymentState.ROLLING_OUT
    world.engine.raise_event(deployment_id, "approve", signal("ana", "canary looks good"))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    gating = next(
        t for t in world.store.deployments.get_deployment(deployment_id).transitions if t.target.value == "HealthGating"
    )
    assert gating.reason == "approved by ana: canary looks good"


@pytest.mark.parametrize("sdk", [True, False], ids=["sdk-client", "plain-http"])
def test_an_abort_during_a_pause_rolls_back_with_who_aborted_and_why(world: World, sdk: bool) -> None:
    world.finish(world.deploy(release("1.0.0")))
    deployment_id = world.deploy(release("2.0.0", MANUAL_CANARY))
    world.wait_for_custom_status(deployment_id, "approve")
    world.engine.raise_event(deployment_id, "abort", signal("bo", "wrong build", sdk=sdk))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    reason = world.store.deployments.get_deployment(deployment_id).transitions[-1].reason
    assert "aborted by bo: wrong build" in reason


# What an attacker with the system key posted straight to the Durable webhook: none of it may end the wait.
BAD_PAYLOADS = [json.dumps("ship it"), json.dumps(json.dumps("ship it")), "42", "null", json.dumps({"by": ""}), "[1]"]


@pytest.mark.parametrize("bad", BAD_PAYLOADS)
def test_a_signal_that_does_not_parse_is_refused_and_the_deployment_keeps_waiting(world: World, bad: str) -> None:
    world.finish(world.deploy(release("1.0.0")))
    deployment_id = world.deploy(release("2.0.0", MANUAL_CANARY))
    world.wait_for_custom_status(deployment_id, "approve")
    world.engine.raise_event(deployment_id, "approve", bad)
    world.engine.raise_event(deployment_id, "abort", bad)
    # Events reach the instance in order: had either counted, the abort below would find nothing waiting.
    world.engine.raise_event(deployment_id, "abort", signal("bo", "after the bad ones"))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    transitions = world.store.deployments.get_deployment(deployment_id).transitions
    assert transitions[-1].reason == "aborted by bo: after the bad ones"
    assert not any("approved" in t.reason for t in transitions)


@pytest.mark.slow  # the activity's retries wait their real intervals
def test_a_provisioning_error_fails_the_deployment(world: World) -> None:
    document = copy.deepcopy(release_document())
    document["spec"]["environment"].update(compute="aks", region="westeurope")
    deployment_id = world.deploy(parse_release(document))
    assert world.finish(deployment_id) is DeploymentState.FAILED
    assert event_types(world, deployment_id)[-1] == "RuntimeDeploymentFailed"
    assert "only local environments" in world.store.deployments.get_deployment(deployment_id).transitions[-1].reason


def test_a_second_deployment_of_a_running_service_is_refused(world: World) -> None:
    world.finish(world.deploy(release("1.0.0")))
    running = world.deploy(release("2.0.0", MANUAL_CANARY))
    world.wait_for_custom_status(running, "approve")
    with pytest.raises(deployments.ServiceBusy) as refused:
        world.accept(release("2.0.1"))
    assert refused.value.holder == running
    listed = world.store.deployments.list_deployments()
    assert [d.id for d in listed if d.state is DeploymentState.REQUESTED] == [], "nothing kept"
    world.engine.raise_event(running, "approve", signal("ana", "ship it"))
    world.finish(running)
    assert world.accept(release("2.0.1")).created


def test_binding_records_references_and_hashes_never_secret_values(world: World) -> None:
    from controlplane.services import rollout

    document = copy.deepcopy(release_document(tag="1.0.0"))
    document["spec"]["services"][0]["configuration"] = {"LOG_LEVEL": "info"}
    document["spec"]["services"][0]["secrets"] = [
        {"name": "DB_PASSWORD", "keyVaultSecretUri": "https://orders-kv.vault.azure.net/secrets/db-password"}
    ]
    accepted = world.accept(parse_release(document))
    bound = rollout.bind_configuration(world.store.deployments, accepted.deployment.id)
    assert bound["orders"]["secrets"] == ["DB_PASSWORD"] and bound["orders"]["keys"] == ["LOG_LEVEL"]
    assert bound["orders"]["configHash"] == parse_release(document).service("orders").config_hash()
    message = world.store.deployments.get_deployment(accepted.deployment.id).services["orders"].message
    assert "secret references DB_PASSWORD" in message and "vault.azure.net" not in message


def test_a_manual_rollback_targets_the_last_completed_release_before(world: World) -> None:
    first = world.deploy(release("1.0.0"))
    world.finish(first)
    second = world.deploy(release("2.0.0"))
    world.finish(second)
    assert deployments.previous_completed(world.store.deployments, second).id == first
    with pytest.raises(NotFound):
        deployments.previous_completed(world.store.deployments, first)
    world.health.statuses = {"orders--": HealthStatus.UNHEALTHY}
    failed = world.deploy(release("3.0.0"))
    world.finish(failed)
    assert world.store.deployments.get_deployment(failed).state is DeploymentState.ROLLED_BACK
    with pytest.raises(deployments.NotRollbackable):
        deployments.previous_completed(world.store.deployments, failed)


def test_a_prod_release_waits_for_approval_before_promotion(world: World) -> None:
    document = copy.deepcopy(release_document(tag="1.0.0"))
    document["spec"]["environment"]["tier"] = "prod"
    document["spec"]["healthGate"] = dict(FAST_GATE)
    deployment_id = world.deploy(parse_release(document))
    world.wait_for_custom_status(deployment_id, "promotion to prod")
    assert world.store.deployments.get_deployment(deployment_id).state is DeploymentState.HEALTH_GATING
    # announced before the wait, so notifications can ask an Approver
    [asked] = [e for e in world.bus.published if e.type == "RuntimeDeploymentApprovalRequested"]
    environment = document["spec"]["environment"]["name"]
    assert dict(asked.data) == {"deploymentId": deployment_id, "environment": environment, "for": "promotion to prod"}
    world.engine.raise_event(deployment_id, "approve", signal("ana", "change CHG-1"))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    promoting = next(
        t for t in world.store.deployments.get_deployment(deployment_id).transitions if t.target.value == "Promoting"
    )
    assert promoting.reason == "approved by ana: change CHG-1"


def test_the_deployment_shows_each_services_last_gate_result(world: World) -> None:
    deployment_id = world.deploy(release("1.0.0"))
    world.finish(deployment_id)
    health = world.store.deployments.get_deployment(deployment_id).services["orders"].last_health
    assert health["status"] == "Healthy" and health["revision"].startswith("orders--")


def test_a_revision_that_cannot_start_rolls_back_without_retrying(world: World) -> None:
    first = world.deploy(release("1.0.0"))
    world.finish(first)
    bad = release("2.0.0")
    accepted = world.accept(bad)
    world.compute.fail_start(f"orders--{accepted.deployment.id.removeprefix('dep-')}", "exited with code 1")
    start = {"deploymentId": accepted.deployment.id, "traceId": accepted.deployment.traceid, "release": bad.to_dict()}
    world.engine.start_new(DEPLOYMENT_ORCHESTRATOR, accepted.deployment.id, json.dumps(start))
    assert world.finish(accepted.deployment.id) is DeploymentState.ROLLED_BACK
    reason = world.store.deployments.get_deployment(accepted.deployment.id).transitions[-1].reason
    assert "exited with code 1" in reason
    starts = [
        c
        for c in world.compute.calls
        if c[0] == "deploy_revision" and c[1].revision.endswith(accepted.deployment.id[4:])
    ]
    assert len(starts) == 1, "a permanent failure is not retried"


def test_a_rollout_error_of_20_000_characters_still_rolls_back_with_the_whole_reason(world: World) -> None:
    """The custom status (16 KB at most, or the orchestration fails) carries the reason cut short; the
    deployment record carries all of it."""
    world.finish(world.deploy(release("1.0.0")))
    accepted = world.accept(release("2.0.0"))
    world.compute.fail_start(f"orders--{accepted.deployment.id.removeprefix('dep-')}", "x" * 20_000)
    start = DeploymentStart.of(accepted.deployment).to_dict()
    world.engine.start_new(DEPLOYMENT_ORCHESTRATOR, accepted.deployment.id, json.dumps(start))
    assert world.finish(accepted.deployment.id) is DeploymentState.ROLLED_BACK
    assert len(world.engine.get_record(accepted.deployment.id).custom_status or "") < 1_000
    assert "x" * 20_000 in world.store.deployments.get_deployment(accepted.deployment.id).transitions[-1].reason


def test_blue_green_gates_on_the_preview_switches_and_retires_the_old_revision_later(world: World) -> None:
    first = world.deploy(release("1.0.0"))
    world.finish(first)
    old = world.store.catalog.get_catalog_entry("dev", "orders").revision
    blue_green = {"type": "BlueGreen", "autoPromotionSeconds": 0, "scaleDownDelaySeconds": 1}
    deployment_id = world.deploy(release("2.0.0", blue_green))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    new = world.store.catalog.get_catalog_entry("dev", "orders").revision
    previews = [call[3] for call in world.compute.calls if call[0] == "set_preview"]
    assert previews == [new, None], "the new revision was previewed, then the preview cleared"
    live = {w.revision: (w.replicas, w.traffic_percent) for w in world.compute.inventory("dev")}
    assert live[new] == (2, 100) and live[old] == (0, 0), "the old revision was scaled down after the delay"


def test_on_container_apps_the_new_revision_starts_whole_and_traffic_moves_by_weight(world: World) -> None:
    def on_container_apps(tag: str) -> Release:
        document = copy.deepcopy(release(tag).to_dict())
        document["spec"]["environment"].update({"compute": "containerapps", "region": "westeurope"})
        document["spec"]["services"][0]["replicas"] = 4
        return parse_release(document)

    use_ports(replace(ports(), provisioner=RecordingProvisioner()))
    first = world.deploy(on_container_apps("1.0.0"))
    assert world.finish(first) is DeploymentState.COMPLETED
    world.compute.calls.clear()
    second = world.deploy(on_container_apps("2.0.0"))
    assert world.finish(second) is DeploymentState.COMPLETED

    new_revision = f"orders--{second.removeprefix('dep-')}"
    scaled = [call[3:] for call in world.compute.calls if call[0] == "scale"]
    deployed = [call[1].replicas for call in world.compute.calls if call[0] == "deploy_revision"]
    assert deployed == [4]  # whole at once: a Container Apps revision cannot be resized
    assert all(replicas == 0 for _, replicas in scaled) and new_revision not in [r for r, _ in scaled]
    weights = [call[3][new_revision] for call in world.compute.calls if call[0] == "set_traffic"]
    assert weights == sorted(weights) and weights[-1] == 100 and len(weights) > 1


@pytest.mark.slow  # the activity's retries wait their real intervals
def test_a_configuration_failure_ends_the_deployment_and_frees_its_services(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable_store(*_: object) -> None:
        raise PermanentError("the configuration store refused the binding")

    monkeypatch.setattr("controlplane.services.rollout.bind_configuration", unreachable_store)
    deployment_id = world.deploy(release("1.0.0"))

    assert world.finish(deployment_id) is DeploymentState.FAILED
    reason = world.store.deployments.get_deployment(deployment_id).transitions[-1].reason
    assert reason.startswith("configuration failed")
    monkeypatch.undo()
    assert world.finish(world.deploy(release("1.0.1"))) is DeploymentState.COMPLETED  # the service is free


def test_a_failed_promotion_rolls_back_and_ends_with_one_terminal_event(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.finish(world.deploy(release("1.0.0")))

    def catalog_write_refused(*_: object) -> None:
        raise PermanentError("the catalog refused the write")

    monkeypatch.setattr("controlplane.services.rollout.record_promotion", catalog_write_refused)
    deployment_id = world.deploy(release("2.0.0"))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert states(world, deployment_id)[-3:] == ["Promoting", "RollingBack", "RolledBack"]
    reason = world.store.deployments.get_deployment(deployment_id).transitions[-1].reason
    assert reason.startswith("Promoting failed: ") and "the catalog refused the write" in reason
    endings = [t for t in event_types(world, deployment_id) if t.startswith("RuntimeDeployment") and "State" not in t]
    assert endings == ["RuntimeDeploymentRequested", "RuntimeDeploymentRolledBack"]
    monkeypatch.undo()
    assert world.finish(world.deploy(release("2.0.1"))) is DeploymentState.COMPLETED  # the service is free


def test_a_probe_activity_that_fails_counts_as_an_unhealthy_probe(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.finish(world.deploy(release("1.0.0")))

    def probe_crashed(*_: object, **__: object) -> None:
        raise ValueError("a health report too large for the event log")

    monkeypatch.setattr("controlplane.services.rollout.probe", probe_crashed)
    deployment_id = world.deploy(release("2.0.0"))
    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    reason = world.store.deployments.get_deployment(deployment_id).transitions[-1].reason
    assert reason.startswith("health gate failed for orders: Unhealthy: probe failed: ")
