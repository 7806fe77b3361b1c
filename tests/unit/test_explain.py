"""Worked examples of ``domain.explain``: deployments told through the real event builders (``gate_events``,
``deployment_events``) wrapped by the real ``deployment_envelope``, explained and rendered."""

from __future__ import annotations

import json

from controlplane.cli.explain_text import render
from controlplane.domain import deployment_events, gate_events
from controlplane.domain.analysis import MetricTally, Verdict
from controlplane.domain.explain import explain
from controlplane.domain.health import HealthStatus
from controlplane.domain.hooks import HookCall, HookOutcome
from controlplane.domain.manifest.analysis import InconclusivePolicy
from tests.gate_story import ALICE, STEP_1, STEP_2, S, Story


def test_a_healthy_canary_whose_requests_fail_is_explained_by_its_analysis() -> None:
    gate = gate_events.gate_of("api", "api-2", 1, STEP_1)
    story = Story().probes("api", "api-2", *[HealthStatus.HEALTHY] * 3)
    story.tell(gate_events.health_gate_completed(gate, "passed", 3, 0, "3 Healthy probes in a row"))
    story.measured(gate, "request-success-rate", 0.8)
    tally = MetricTally("request-success-rate", failed=1)
    story.tell(gate_events.analysis_completed(gate, Verdict.FAILED, "a metric failed", [(tally, Verdict.FAILED)]))
    reason = "analysis failed for api at gate 1"
    story.move(S.ROLLING_BACK, reason=reason)
    story.tell(deployment_events.rolled_back(reason, "dep-6", {"api": "Healthy"}, []))
    story.move(S.ROLLED_BACK, reason=reason)

    explanation = explain("dep-7", story.envelopes)

    assert (explanation.state, explanation.release, explanation.environment) == ("RolledBack", "dev-1-0-0", "dev")
    assert explanation.reason == (f"analysis failed for api at gate 1 ({STEP_1}): request-success-rate 0.8 < min 0.95")
    [service] = explanation.services
    [checked] = service.gates
    assert (service.name, service.revision, checked.verdict) == ("api", "api-2", "failed")
    assert checked.health is not None and checked.health.probes == {"Healthy": 3}
    assert checked.health.in_a_row == {"passed": 3, "failed": 0}
    text = render(explanation)
    assert text.splitlines()[0] == f"deployment dep-7 of dev-1-0-0 to dev: RolledBack — {explanation.reason}"
    assert f"  gate 1  {STEP_1}" in text and text.splitlines()[2].endswith("FAILED")
    assert "    health    passed  3 passed, 0 failed in a row; probes: 3 Healthy; last Healthy (HTTP 200)" in text
    assert "      request-success-rate (router) >= 0.95  failed" in text
    assert (
        "        #1  0.8          failed        router: 1 - 5xx/requests of revision api-2 over 30s [40 samples]"
        in text
    )


def test_an_inconclusive_analysis_holds_the_gate_until_an_operator_decides() -> None:
    gate = gate_events.gate_of("api", "api-2", 1, STEP_1)
    story = Story().probes("api", "api-2", HealthStatus.HEALTHY, HealthStatus.HEALTHY)
    story.tell(gate_events.health_gate_completed(gate, "passed", 2, 0, "2 Healthy probes in a row"))
    story.measured(gate, "request-success-rate", None, None)
    tally = MetricTally("request-success-rate", inconclusive=2)
    completed = gate_events.analysis_completed(gate, Verdict.INCONCLUSIVE, "no data", [(tally, Verdict.INCONCLUSIVE)])
    policy = InconclusivePolicy(timeout_seconds=600, on_timeout="rollback")
    story.tell(completed, gate_events.analysis_held(gate, "request-success-rate has no data", policy))

    held = explain("dep-7", story.envelopes)

    assert held.state == "RollingOut"
    assert held.services[0].gates[0].verdict == "held"
    assert held.reason == (
        f"analysis inconclusive for api at gate 1 ({STEP_1}): request-success-rate had no value 2 time(s) "
        "(no requests in 30s); waiting for an operator's approve or abort (rollback after 600 s)"
    )
    assert "#1  no value     inconclusive  no requests in 30s: router: 1 - 5xx" in render(held)

    aborted = Story()
    aborted.envelopes = list(story.envelopes)
    aborted.tell(gate_events.analysis_hold_resolved(gate, "aborted", "rollback", ALICE))
    aborted.move(S.ROLLING_BACK, reason="aborted by alice@contoso.com")
    assert explain("dep-7", aborted.envelopes).reason == (
        f"held for api at gate 1 ({STEP_1}): analysis inconclusive (request-success-rate has no data), then aborted "
        "by alice@contoso.com: rolled back"
    )

    story.tell(gate_events.analysis_hold_resolved(gate, "approved", "continue", ALICE))
    approved = explain("dep-7", story.envelopes).services[0].gates[0]
    assert approved.verdict == "passed"
    assert approved.why.endswith("analysis inconclusive, then approved by alice@contoso.com: continued")
    assert "hold      request-success-rate has no data: approved by alice@contoso.com, then continue" in render(
        explain("dep-7", story.envelopes)
    )


def test_a_failing_step_webhook_fails_its_gate_and_deployment_hooks_are_listed_once_per_answer() -> None:
    gate = gate_events.gate_of("api", "api-2", 2, STEP_2)
    first = gate_events.gate_of("api", "api-2", 1, STEP_1)
    pre = HookCall("smoke", "pre-rollout", "https://hooks.example/smoke?sig=secret", "d-1", 10, 2, None)
    load = HookCall("load-test", "rollout", "https://hooks.example/load", "d-2", 10, 2, None)
    story = Story().tell(gate_events.webhook_called(pre, HookOutcome(200, 1), "passed"))
    story.tell(gate_events.health_gate_completed(first, "passed", 1, 0, "1 Healthy probe"))
    story.tell(gate_events.webhook_called(load, HookOutcome(200, 1), "passed", first))
    story.tell(gate_events.health_gate_completed(gate, "passed", 1, 0, "1 Healthy probe"))
    story.tell(gate_events.webhook_called(load, HookOutcome(500, 3, "HTTP 500"), "rolls back", gate))
    story.move(S.ROLLING_BACK, reason="webhook load-test failed")

    explanation = explain("dep-7", story.envelopes)

    [hook] = explanation.hooks
    assert (hook.hook, hook.url, hook.effect) == ("smoke", "https://hooks.example/smoke", "passed")
    one, two = explanation.services[0].gates
    assert (one.number, one.verdict, two.number, two.verdict) == (1, "passed", 2, "failed")
    assert explanation.reason == (
        f"webhook failed for api at gate 2 ({STEP_2}): load-test (rollout) HTTP 500 after 3 attempts, rolls back"
    )
    assert "    webhook   load-test (rollout)  HTTP 200  passed  https://hooks.example/load" in render(explanation)


def test_waves_promotion_holds_and_approvals_are_the_deployments_own_lines() -> None:
    story = Story(("orders", "api"))
    story.tell(gate_events.wave_started(1, 2, ["orders"], []))
    orders = gate_events.gate_of("orders", "orders-2", 1, "rolling batch 1")
    story.tell(gate_events.health_gate_completed(orders, "passed", 2, 0, "2 Healthy probes"))
    story.tell(
        gate_events.wave_completed(1, 2, ["orders"], "passed"), gate_events.wave_started(2, 2, ["api"], ["orders"])
    )
    api = gate_events.gate_of("api", "api-2", 1, "rolling batch 1")
    story.tell(gate_events.health_gate_completed(api, "passed", 2, 0, "2 Healthy probes"))
    story.tell(gate_events.wave_completed(2, 2, ["api"], "passed"))
    confirm = HookCall("change-window", "confirm-promotion", "https://hooks.example/cw", "d-3", 10, 0, None)
    for _ in range(3):
        story.tell(gate_events.webhook_called(confirm, HookOutcome(409, 1), "holds promotion"))
        story.tell(gate_events.promotion_held("api", "change-window", "outside the change window"))
    story.move(S.HEALTH_GATING)
    story.tell(deployment_events.approval_requested("dev", "promotion to prod", None))

    waiting = explain("dep-7", story.envelopes)

    assert [service.name for service in waiting.services] == ["orders", "api"]
    assert [(w.wave, w.services, w.waits_for, w.verdict) for w in waiting.waves] == [
        (1, ("orders",), (), "passed"),
        (2, ("api",), ("orders",), "passed"),
    ]
    assert [(h.hook, h.times) for h in waiting.hooks] == [("change-window", 3)]
    assert [(p.service, p.times) for p in waiting.promotion_holds] == [("api", 3)]
    assert waiting.reason == "waiting for an approval of promotion to prod"
    text = render(waiting)
    assert "  2/2  api  after orders  passed" in text
    assert "  api: webhook change-window has not confirmed (3 times): outside the change window" in text
    assert "  promotion to prod: waiting" in text

    story.tell(deployment_events.approved("dev", "promotion to prod", None, ALICE, "CHG-1"))
    story.move(S.PROMOTING, S.COMPLETED)
    done = explain("dep-7", story.envelopes)
    assert done.reason == "every gate passed (2 gate(s) of 2 service(s)); approved by alice@contoso.com"
    assert "  promotion to prod: approved by alice@contoso.com: CHG-1" in render(done)


def test_a_deployment_from_before_gate_events_is_explained_from_its_probes_and_says_so() -> None:
    story = Story().probes("api", "api-2", HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, HealthStatus.UNHEALTHY)
    reason = "health gate failed for api: Unhealthy (HTTP 503)"
    story.move(S.ROLLING_BACK, reason=reason)
    story.probes("api", "api-1", HealthStatus.HEALTHY)  # the restored stable revision: not the gate's
    story.tell(deployment_events.rolled_back(reason, "dep-6", {"api": "Healthy"}, []))
    story.move(S.ROLLED_BACK, reason=reason)

    explanation = explain("dep-7", story.envelopes)

    [gate] = explanation.services[0].gates
    assert (gate.number, gate.verdict, gate.revision) == (None, "failed", "api-2")
    assert gate.health is not None and gate.health.from_probes
    assert gate.health.probes == {"Healthy": 1, "Unhealthy": 2}
    assert explanation.reason == "health failed for api at its health gate: Unhealthy (HTTP 503)"
    assert "no RuntimeHealthGateCompleted events" in render(explanation)


def test_envelopes_in_any_order_and_of_other_deployments_give_the_same_explanation() -> None:
    gate = gate_events.gate_of("api", "api-2", 1, STEP_1)
    story = Story().probes("api", "api-2", HealthStatus.HEALTHY)
    story.tell(gate_events.health_gate_completed(gate, "passed", 1, 0, "1 Healthy probe"))
    story.measured(gate, "request-success-rate", 0.99, 0.97)
    tally = MetricTally("request-success-rate", passed=2)
    story.tell(gate_events.analysis_completed(gate, Verdict.PASSED, "all passed", [(tally, Verdict.PASSED)]))
    other = Story(deployment_id="dep-8").move(S.ROLLING_BACK, reason="someone else's")

    shuffled = explain("dep-7", [*reversed(story.envelopes), *other.envelopes])

    assert shuffled == explain("dep-7", story.envelopes)
    assert shuffled.events == len(story.envelopes)
    assert shuffled.services[0].gates[0].why == (
        "health passed (1 Healthy probe); analysis passed: request-success-rate 2/2 >= 0.95"
    )


def test_the_dict_is_camel_case_json_and_a_capped_read_says_so() -> None:
    gate = gate_events.gate_of("api", "api-2", 1, STEP_1)
    story = Story().tell(gate_events.health_gate_completed(gate, "failed", 0, 3, "3 Unhealthy probes in a row"))
    story.tell(deployment_events.approval_requested("dev", "the next rollout step of api", "api"))
    explanation = explain("dep-7", story.envelopes[:-1], complete=False)

    document = json.loads(json.dumps(explanation.to_dict()))

    assert document["deploymentId"] == "dep-7" and document["complete"] is False
    assert document["services"][0]["gates"][0]["health"]["inARow"] == {"passed": 0, "failed": 3}
    assert document["services"][0]["gates"][0]["verdict"] == "failed"
    assert set(document) >= {"promotionHolds", "approvals", "waves", "hooks", "state", "reason", "unreadable"}
    assert render(explanation).endswith(f"(explained from the first {explanation.events} events only: more are stored)")
    assert explain("dep-7", story.envelopes).to_dict()["approvals"] == [
        {"for": "the next rollout step of api", "service": "api", "by": None, "reason": None}
    ]
