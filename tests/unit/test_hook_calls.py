"""The pure parts of the rollout webhooks and waves: what an answer does per webhook type, the call_webhook
request on the wire, and a service's plan cut at its last gate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controlplane.domain.hooks import HookCall, HookOutcome, hook_effect
from controlplane.domain.manifest.webhooks import Webhook
from controlplane.domain.rollout import RunHealthGate
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.hook_requests import HookRequest
from controlplane.errors import InvalidInput
from orchestrators.waves import ServicePlan
from tests.workflow_world import release

OK, REFUSED, SILENT = HookOutcome(204, 1), HookOutcome(500, 3, "HTTP 500"), HookOutcome(None, 3, "timed out")


@pytest.mark.parametrize(
    ("hook_type", "on_2xx", "otherwise"),
    [
        ("pre-rollout", "passed", "rolls back"),
        ("rollout", "passed", "rolls back"),
        ("confirm-promotion", "confirms promotion", "holds promotion"),
        ("post-rollout", "recorded", "recorded"),
        ("rollback", "asks for a rollback", "no rollback asked"),
    ],
)
def test_an_answers_effect_follows_the_webhook_types_table(hook_type: str, on_2xx: str, otherwise: str) -> None:
    assert hook_effect(hook_type, OK) == on_2xx
    assert hook_effect(hook_type, REFUSED) == hook_effect(hook_type, SILENT) == otherwise


def test_an_unknown_webhook_type_has_no_effect_to_give() -> None:
    with pytest.raises(KeyError):
        hook_effect("pre-promotion", OK)


AT = datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC)
TARGET = Target("orders", "orders--abc", 3, "orders--old", 2, "dep-old")
WEBHOOK = Webhook.model_validate({"name": "load-test", "type": "rollout", "url": "https://hooks.example.com/t"})
CALL = HookCall.of(WEBHOOK, "delivery-1", {"service": "orders", "gate": 2, "step": "canary step 2"})


def test_a_hook_request_round_trips_and_says_where_the_call_happened() -> None:
    request = HookRequest("dep-abc", "trace", AT, "e-1", target=TARGET, call=CALL, gate=2, step="canary step 2")
    wire = request.to_dict()
    assert list(wire)[:4] == ["deploymentId", "traceId", "at", "eventId"]
    assert (wire["gate"], wire["stepText"], wire["call"]["delivery"]) == (2, "canary step 2", "delivery-1")
    assert HookRequest.from_dict(wire) == request
    assert request.where == {"service": "orders", "revision": "orders--abc", "gate": 2, "step": "canary step 2"}
    not_at_a_gate = HookRequest("dep-abc", "trace", AT, "e-1", target=TARGET, call=CALL, gate=None, step="before")
    assert HookRequest.from_dict(not_at_a_gate.to_dict()).gate is None


def test_a_bad_hook_request_names_each_bad_field() -> None:
    request = HookRequest("dep-abc", "trace", AT, "e-1", target=TARGET, call=CALL, gate=2, step="canary step 2")
    wire = {**request.to_dict(), "gate": 0, "call": {"hook": "load-test"}}
    del wire["stepText"]
    with pytest.raises(InvalidInput) as refused:
        HookRequest.from_dict(wire)
    assert {error.path for error in refused.value.errors} == {"gate", "call", "stepText"}


def test_a_services_plan_is_cut_at_its_last_gate_which_knows_its_number() -> None:
    canary = release("1.0.0", {"type": "Canary", "steps": [{"weight": 20}, {"weight": 50}, {"weight": 100}]})
    plan = ServicePlan.of(canary, TARGET)
    assert isinstance(plan.last_gate, RunHealthGate)
    assert plan.last_gate_number == 1 + sum(isinstance(step, RunHealthGate) for step in plan.steps) == 3
    assert [str(step) for step in plan.after] == ["stable=0"]
