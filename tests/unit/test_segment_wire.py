"""The wire of a service's rollout sub-orchestrations (domain/workflow/service_segments.py) and of the activities
they call (the new requests in domain/workflow/deployment_requests.py): a round trip keeps every field, and a bad
field is named in InvalidInput."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from controlplane.domain.access import Actor
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.rollout import ScaleRevision
from controlplane.domain.rollout.steps import RunHealthGate, ScaleDownStableAfter, SetTraffic
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.deployment_requests import (
    GateRequest,
    Gating,
    Promotion,
    PromotionRequest,
    StepsRequest,
    TransitionRequest,
)
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.domain.workflow.service_segments import GroupStart, HeldGate, SegmentOutcome, SegmentStart
from controlplane.errors import InvalidInput
from tests.builders import T0, deployment

START = DeploymentStart.of(deployment(services=("orders", "billing")))
ORDERS = Target("orders", "orders--abc", 2, "orders--old", 2, "dep-0")
BILLING = Target("billing", "billing--abc", 1, None, 0, None)
OPERATOR = Actor("ana", "oid-ana", ("Deployer",))
GATING = Gating("approved by ana", OPERATOR)
STEPS = (ScaleRevision("new", 1), SetTraffic(10), RunHealthGate("canary"))
STAMP: dict[str, Any] = {"deployment_id": "dep-1", "trace_id": "t" * 32, "at": T0, "event_id": "ev-1"}


def segment(target: Target = ORDERS, **changes: Any) -> SegmentStart:
    fields: dict[str, Any] = {
        "start": START,
        "target": target,
        "steps": STEPS,
        "first_gate": 2,
        "deadline": T0 + timedelta(minutes=10),
    }
    return SegmentStart(**{**fields, **changes})


def through_json(wire: dict[str, Any]) -> dict[str, Any]:
    """What crosses the durable backend: JSON text."""
    loaded: dict[str, Any] = json.loads(json.dumps(wire))
    return loaded


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(segment(), id="segment"),
        pytest.param(segment(pre_rollout=True, gating_gate=3, gating=GATING), id="segment-gating"),
        pytest.param(segment(BILLING, steps=(), gating=Gating()), id="segment-first-release"),
        pytest.param(SegmentOutcome(), id="outcome-passed"),
        pytest.param(
            SegmentOutcome(None, (HeldGate({"service": "orders", "gate": 2}, "inconclusive"),), 2, 12.5),
            id="outcome-held",
        ),
        pytest.param(SegmentOutcome("health gate failed for orders", gates=1), id="outcome-failed"),
        pytest.param(Promotion(ORDERS, (ScaleDownStableAfter(300),)), id="promotion"),
    ],
)
def test_segment_wire_round_trips(value: Any) -> None:
    assert type(value).from_dict(through_json(value.to_dict())) == value


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(StepsRequest(**STAMP, target=ORDERS, steps=STEPS), id="steps"),
        pytest.param(StepsRequest(**STAMP, target=BILLING, steps=()), id="steps-none"),
        pytest.param(
            GateRequest(**STAMP, target=ORDERS, where={"service": "orders", "gate": 1}, deadline=T0), id="gate"
        ),
        pytest.param(
            GateRequest(
                **STAMP,
                target=ORDERS,
                where={"service": "orders", "gate": 2},
                deadline=T0 + timedelta(minutes=5),
                successes=2,
                failures=0,
                probes=7,
                gating=GATING,
            ),
            id="gate-tally-gating",
        ),
        pytest.param(GateRequest(**STAMP, target=ORDERS, where={}, deadline=T0, gating=Gating()), id="gate-no-actor"),
        pytest.param(
            PromotionRequest(**STAMP, promotions=(Promotion(ORDERS, (ScaleDownStableAfter(60),)), Promotion(BILLING))),
            id="promotion",
        ),
        pytest.param(
            TransitionRequest(
                **STAMP,
                to=DeploymentState.ROLLING_BACK,
                reason="health gate failed",
                only_from=(DeploymentState.ROLLING_OUT, DeploymentState.HEALTH_GATING),
            ),
            id="transition-only-from",
        ),
        pytest.param(TransitionRequest(**STAMP, to=DeploymentState.PROMOTING), id="transition"),
    ],
)
def test_request_wire_round_trips(request_: Any) -> None:
    assert type(request_).from_dict(through_json(request_.to_dict())) == request_


def test_transition_request_names_only_from_on_the_wire_as_only_from() -> None:
    request = TransitionRequest(**STAMP, to=DeploymentState.ROLLING_BACK, only_from=(DeploymentState.ROLLING_OUT,))
    assert request.to_dict()["onlyFrom"] == ["RollingOut"]
    assert "onlyFrom" not in TransitionRequest(**STAMP, to=DeploymentState.ROLLING_BACK).to_dict()


def test_group_start_round_trips_and_carries_the_deployment_start_once() -> None:
    group = GroupStart(START, ((segment(), 1), (segment(BILLING, first_gate=1, gating=GATING, gating_gate=1), 2)))
    wire = through_json(group.to_dict())
    assert GroupStart.from_dict(wire) == group
    assert json.dumps(wire).count('"release"') == 1
    assert all("start" not in item for item in wire["segments"])
    assert [item["number"] for item in wire["segments"]] == [1, 2]


def test_instance_ids_name_the_deployment_the_service_and_the_number() -> None:
    assert segment().instance_id(3) == "dep-1:orders:3"
    assert GroupStart(START, ()).instance_id(2) == "dep-1:group:2"


def error_paths(error: InvalidInput) -> list[str]:
    return [field.path for field in error.errors]


@pytest.mark.parametrize(
    ("read", "wire", "field"),
    [
        (SegmentStart.from_dict, {**segment().to_dict(), "firstGate": "two"}, "firstGate"),
        (SegmentStart.from_dict, {**segment().to_dict(), "deadline": "soon"}, "deadline"),
        (SegmentStart.from_dict, {**segment().to_dict(), "steps": [{"kind": "Teleport"}]}, "steps"),
        (SegmentStart.from_dict, {**segment().to_dict(), "preRollout": "yes"}, "preRollout"),
        (SegmentOutcome.from_dict, {**SegmentOutcome().to_dict(), "gates": "many"}, "gates"),
        (StepsRequest.from_dict, {**StepsRequest(**STAMP, target=ORDERS, steps=()).to_dict(), "steps": 3}, "steps"),
        (
            GateRequest.from_dict,
            {**GateRequest(**STAMP, target=ORDERS, where={}, deadline=T0).to_dict(), "probes": "x"},
            "probes",
        ),
        (
            GateRequest.from_dict,
            {**GateRequest(**STAMP, target=ORDERS, where={}, deadline=T0).to_dict(), "deadline": 5},
            "deadline",
        ),
        (
            PromotionRequest.from_dict,
            {**PromotionRequest(**STAMP, promotions=()).to_dict(), "promotions": {}},
            "promotions",
        ),
        (
            TransitionRequest.from_dict,
            {**TransitionRequest(**STAMP, to=DeploymentState.PROMOTING).to_dict(), "to": "Sideways"},
            "to",
        ),
        (
            TransitionRequest.from_dict,
            {**TransitionRequest(**STAMP, to=DeploymentState.PROMOTING).to_dict(), "onlyFrom": "RollingOut"},
            "onlyFrom",
        ),
    ],
)
def test_a_bad_field_is_named_in_invalid_input(read: Any, wire: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        read(wire)
    assert any(path == field or path.startswith(f"{field}.") for path in error_paths(raised.value)), raised.value


def test_a_bad_gating_field_is_named_with_its_path() -> None:
    wire = GateRequest(**STAMP, target=ORDERS, where={}, deadline=T0, gating=GATING).to_dict()
    wire["gating"] = {"reason": 5}
    with pytest.raises(InvalidInput) as raised:
        GateRequest.from_dict(wire)
    assert any("gating" in path and "reason" in path for path in error_paths(raised.value)), raised.value


@pytest.mark.parametrize("only_from", [["Sideways"], "RollingOut", [3]])
def test_a_bad_only_from_is_named_in_invalid_input(only_from: Any) -> None:
    wire = {**TransitionRequest(**STAMP, to=DeploymentState.ROLLING_BACK).to_dict(), "onlyFrom": only_from}
    with pytest.raises(InvalidInput) as raised:
        TransitionRequest.from_dict(wire)
    assert error_paths(raised.value) == ["onlyFrom"]


def group_wire() -> dict[str, Any]:
    return GroupStart(START, ((segment(), 1),)).to_dict()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"segments": 5}, "segments"),
        ({"segments": [{**group_wire()["segments"][0], "firstGate": "x"}]}, "segments.firstGate"),
        ({"segments": [{k: v for k, v in group_wire()["segments"][0].items() if k != "number"}]}, "segments"),
        ({"start": "dep-1"}, "start"),
    ],
)
def test_a_bad_group_field_is_named_in_invalid_input(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        GroupStart.from_dict({**group_wire(), **change})
    assert error_paths(raised.value) == [field], raised.value
