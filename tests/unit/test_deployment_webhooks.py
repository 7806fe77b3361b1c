"""Rollout webhooks in the deployment workflow, through the durable engine's real SDK replay, with the scripted
HookCaller: where each type is called and what its answer does (Flagger's semantics)."""

from __future__ import annotations

from typing import Any

from controlplane.domain.deployment import DeploymentState
from controlplane.domain.events import Envelope
from controlplane.domain.health import HealthStatus
from controlplane.domain.manifest import Release
from tests.unit.test_deployment_workflow import signal, states
from tests.workflow_world import World, release

TWO_GATES = {"type": "Canary", "steps": [{"weight": 50}, {"weight": 100}]}


def hook(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "url": f"https://hooks.example.com/{name}?token=t",
        "intervalSeconds": 1,
        **extra,
    }


def hooked(tag: str, *hooks: dict[str, Any], strategy: dict[str, Any] | None = None) -> Release:
    return release(tag, strategy, webhooks=list(hooks))


def events(world: World, deployment_id: str) -> list[Envelope]:
    traceid = world.store.deployments.get_deployment(deployment_id).traceid
    return world.store.event_log.events_for_trace(traceid)


def calls(world: World, deployment_id: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in events(world, deployment_id) if e.type == "RuntimeWebhookCalled"]


def reason(world: World, deployment_id: str) -> str:
    return world.store.deployments.get_deployment(deployment_id).transitions[-1].reason


def new_revision_calls(world: World, deployment_id: str) -> list[tuple[Any, ...]]:
    suffix = deployment_id.removeprefix("dep-")
    return [c for c in world.compute.calls if any(suffix in str(arg) for arg in c[1:])]


def test_a_failing_pre_rollout_hook_rolls_back_before_any_step(world: World) -> None:
    world.finish(world.deploy(release("1.0.0")))
    stable = world.store.catalog.get_catalog_entry("dev", "orders").revision
    world.hooks.script("smoke", 500)
    world.compute.calls.clear()
    deployment_id = world.deploy(hooked("2.0.0", hook("smoke", "pre-rollout", metadata={"team": "shop"})))

    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert reason(world, deployment_id) == "pre-rollout webhook smoke failed for orders: HTTP 500 after 3 attempts"
    assert states(world, deployment_id)[-3:] == ["RollingOut", "RollingBack", "RolledBack"]
    deployed = [c for c in world.compute.calls if c[0] == "deploy_revision"]
    assert deployed == [], "no step ran"
    live = {w.revision: (w.replicas, w.traffic_percent) for w in world.compute.inventory("dev")}
    assert live[stable] == (2, 100)
    # Rolled back with nothing to undo, and it says so.
    progress = world.store.deployments.get_deployment(deployment_id).services["orders"]
    assert progress.phase.value == "RolledBack" and progress.message.startswith("rolled back before it started")
    [call] = world.hooks.called("smoke")
    assert {key: call.body[key] for key in ("hook", "type", "service", "gate", "step", "metadata")} == {
        "hook": "smoke",
        "type": "pre-rollout",
        "service": "orders",
        "gate": None,
        "step": "before the first rollout step",
        "metadata": {"team": "shop"},
    }
    record = world.store.deployments.get_deployment(deployment_id)
    assert (call.body["deploymentId"], call.body["traceId"]) == (deployment_id, record.traceid)
    assert (call.body["release"], call.body["environment"]) == ("dev-2-0-0", "dev")
    [called] = calls(world, deployment_id)
    assert (called["status"], called["attempts"], called["outcome"], called["effect"]) == (
        500,
        3,
        "failed",
        "rolls back",
    )
    assert called["url"] == "https://hooks.example.com/smoke", "the query (a token) is not shown"


def test_a_passing_pre_rollout_hook_is_called_once_before_the_first_step(world: World) -> None:
    deployment_id = world.deploy(hooked("1.0.0", hook("smoke", "pre-rollout")))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    kinds = [e.type for e in events(world, deployment_id)]
    assert kinds.index("RuntimeWebhookCalled") < kinds.index("HealthCheckCompleted")
    assert [c["effect"] for c in calls(world, deployment_id)] == ["passed"]


def test_a_rollout_hook_is_called_at_every_gate_and_its_failure_rolls_back(world: World) -> None:
    world.finish(world.deploy(release("1.0.0")))
    world.hooks.script("load-test", 200, 502)
    deployment_id = world.deploy(hooked("2.0.0", hook("load-test", "rollout"), strategy=TWO_GATES))

    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert reason(world, deployment_id) == "rollout webhook load-test failed for orders: HTTP 502 after 3 attempts"
    called = calls(world, deployment_id)
    assert [(c["gate"], c["effect"]) for c in called] == [(1, "passed"), (2, "rolls back")]
    assert all(c["step"] and c["revision"] == f"orders--{deployment_id[4:]}" for c in called)
    kinds = [e.type for e in events(world, deployment_id)]
    assert kinds.index("HealthCheckCompleted") < kinds.index("RuntimeWebhookCalled"), "after the health gate passed"


def test_a_rollback_hook_that_answers_2xx_rolls_back_before_the_rollout_hooks_run(world: World) -> None:
    world.finish(world.deploy(release("1.0.0")))
    world.hooks.script("kill-switch", 404, 200)
    rollout_hooks = (hook("kill-switch", "rollback"), hook("load-test", "rollout"))
    deployment_id = world.deploy(hooked("2.0.0", *rollout_hooks, strategy=TWO_GATES))

    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert reason(world, deployment_id) == "rollback webhook kill-switch asked for a rollback of orders (HTTP 200)"
    called = [(c["hook"], c["gate"], c["effect"]) for c in calls(world, deployment_id)]
    assert called == [
        ("kill-switch", 1, "no rollback asked"),
        ("load-test", 1, "passed"),
        ("kill-switch", 2, "asks for a rollback"),
    ]


def test_a_confirm_promotion_hook_holds_promotion_until_it_confirms(world: World) -> None:
    world.hooks.script("go-live", 503, 503, 200)
    world.hooks.script("kill-switch", 404)
    confirm = hook("go-live", "confirm-promotion")
    deployment_id = world.deploy(hooked("1.0.0", confirm, hook("kill-switch", "rollback")))

    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    logged = events(world, deployment_id)
    [held] = [e.data for e in logged if e.type == "RuntimePromotionHeld"]
    assert (held["service"], held["hook"]) == ("orders", "go-live")
    assert held["reason"] == (
        "confirm-promotion webhook go-live of orders did not confirm: HTTP 503 after 3 attempts; asking again every 1 s"
    )
    go_live = [c["effect"] for c in calls(world, deployment_id) if c["hook"] == "go-live"]
    assert go_live == ["holds promotion", "holds promotion", "confirms promotion"]
    # The rollback hook is asked at the gate, then polled while promotion is held (once per round).
    polled = [(c["gate"], c["step"]) for c in calls(world, deployment_id) if c["hook"] == "kill-switch"]
    assert polled[0][0] == 1 and polled[-2:] == [(None, "while promotion is held")] * 2
    kinds = [e.data["to"] if e.type == "RuntimeDeploymentStateChanged" else e.type for e in logged]
    assert kinds.index("HealthGating") < kinds.index("RuntimePromotionHeld") < kinds.index("Promoting")


def test_a_rollback_hook_polled_while_promotion_is_held_can_end_the_hold(world: World) -> None:
    world.finish(world.deploy(release("1.0.0")))
    world.hooks.script("go-live", 503)
    world.hooks.script("kill-switch", 404, 404, 200)  # no at both gates, yes once promotion is held
    rollout_hooks = (hook("go-live", "confirm-promotion", intervalSeconds=3600), hook("kill-switch", "rollback"))
    deployment_id = world.deploy(hooked("2.0.0", *rollout_hooks))

    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert reason(world, deployment_id) == "rollback webhook kill-switch asked for a rollback of orders (HTTP 200)"
    assert states(world, deployment_id)[-3:] == ["HealthGating", "RollingBack", "RolledBack"]
    assert [c["effect"] for c in calls(world, deployment_id)][-2:] == ["holds promotion", "asks for a rollback"]


def test_an_abort_while_promotion_is_held_rolls_back(world: World) -> None:
    world.finish(world.deploy(release("1.0.0")))
    world.hooks.script("go-live", 503)
    deployment_id = world.deploy(hooked("2.0.0", hook("go-live", "confirm-promotion", intervalSeconds=3600)))
    world.wait_for_custom_status(deployment_id, "held")
    world.engine.raise_event(deployment_id, "abort", signal("bo", "not today"))

    assert world.finish(deployment_id) is DeploymentState.ROLLED_BACK
    assert reason(world, deployment_id) == "aborted by bo: not today"
    assert states(world, deployment_id)[-3:] == ["HealthGating", "RollingBack", "RolledBack"]


def test_post_rollout_hooks_are_called_after_completed_and_after_rolled_back_and_change_nothing(
    world: World,
) -> None:
    world.hooks.script("notify", 500)
    first = world.deploy(hooked("1.0.0", hook("notify", "post-rollout")))
    assert world.finish(first) is DeploymentState.COMPLETED
    kinds = [e.type for e in events(world, first)]
    assert kinds[-2:] == ["RuntimeDeploymentCompleted", "RuntimeWebhookCalled"]
    [called] = calls(world, first)
    assert (called["status"], called["effect"], called["step"]) == (500, "recorded", "after the rollout")

    world.health.statuses = {f"orders--{first[4:]}": HealthStatus.HEALTHY, "orders--": HealthStatus.UNHEALTHY}
    second = world.deploy(hooked("2.0.0", hook("notify", "post-rollout")))
    assert world.finish(second) is DeploymentState.ROLLED_BACK
    assert [e.type for e in events(world, second)][-2:] == ["RuntimeDeploymentRolledBack", "RuntimeWebhookCalled"]
    assert [call.body["state"] for call in world.hooks.called("notify")] == ["Completed", "RolledBack"]
    deliveries = [call.delivery for call in world.hooks.calls]
    assert len(set(deliveries)) == len(deliveries), "every call has its own delivery id"
