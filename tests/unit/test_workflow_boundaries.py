"""The typed Durable boundaries: every start input and activity request round-trips through its wire form
with the keys running instances carry, and bad input is refused naming each bad field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from controlplane.domain.deployment import DeploymentState
from controlplane.domain.event_catalog import EventData, EventType
from controlplane.domain.listing_pages import FindingPosition
from controlplane.domain.rollout import ScaleRevision, SetTraffic
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.analysis_requests import MeasureRequest
from controlplane.domain.workflow.deployment_requests import (
    DeploymentRequest,
    EmitRequest,
    ProbeRequest,
    RollBackRequest,
    StepRequest,
    TargetRequest,
    TransitionRequest,
)
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.domain.workflow.drift_requests import (
    ApprovedBatch,
    BatchRequest,
    DriftRun,
    FindingsRequest,
    ScanRequest,
)
from controlplane.errors import InvalidInput
from tests.builders import deployment, release

AT = datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC)
TARGET = Target("orders", "orders--abc", 3, "orders--old", 2, "dep-old")
FIRST_TARGET = Target("orders", "orders--abc", 3, None, 0, None)
STAMP = {
    "deploymentId": "dep-abc",
    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
    "at": AT.isoformat(),
    "eventId": "e-1",
}
STAMP_FIELDS: dict[str, Any] = {
    "deployment_id": "dep-abc",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "at": AT,
    "event_id": "e-1",
}
TARGET_WIRE = {
    "service": "orders",
    "new_revision": "orders--abc",
    "desired": 3,
    "stable_revision": "orders--old",
    "stable_replicas": 2,
    "stable_deployment": "dep-old",
}

POSITION = FindingPosition("2026-03-01T12:00:00.000000Z", "drift-3")
REQUESTS = [
    (DeploymentRequest(**STAMP_FIELDS), STAMP),
    (
        TransitionRequest(**STAMP_FIELDS, to=DeploymentState.ROLLING_OUT, reason="why"),
        {**STAMP, "to": "RollingOut", "reason": "why"},
    ),
    (
        TransitionRequest(
            **STAMP_FIELDS,
            to=DeploymentState.FAILED,
            reason="why",
            closing=(EventData(EventType.RUNTIME_DEPLOYMENT_FAILED, {"reason": "why"}),),
        ),
        {
            **STAMP,
            "to": "Failed",
            "reason": "why",
            "closing": [{"type": "RuntimeDeploymentFailed", "data": {"reason": "why"}}],
        },
    ),
    (
        EmitRequest(**STAMP_FIELDS, event=EventData(EventType.RUNTIME_DEPLOYMENT_FAILED, {"reason": "x"})),
        {**STAMP, "type": "RuntimeDeploymentFailed", "data": {"reason": "x"}},
    ),
    (TargetRequest(**STAMP_FIELDS, target=TARGET), {**STAMP, "target": TARGET_WIRE}),
    (
        StepRequest(**STAMP_FIELDS, target=TARGET, step=SetTraffic(25)),
        {**STAMP, "target": TARGET_WIRE, "step": {"kind": "SetTraffic", "new_percent": 25}},
    ),
    (ProbeRequest(**STAMP_FIELDS, target=TARGET), {**STAMP, "target": TARGET_WIRE}),
    (ProbeRequest(**STAMP_FIELDS, target=TARGET, stable=True), {**STAMP, "target": TARGET_WIRE, "stable": True}),
    (
        RollBackRequest(**STAMP_FIELDS, target=TARGET, reason="gate failed"),
        {**STAMP, "target": TARGET_WIRE, "reason": "gate failed"},
    ),
    (
        MeasureRequest(**STAMP_FIELDS, target=TARGET, gate=2, step="canary step 2", metric="errors", number=3),
        {**STAMP, "target": TARGET_WIRE, "gate": 2, "gateStep": "canary step 2", "metric": "errors", "number": 3},
    ),
    (ScanRequest(AT), {"at": AT.isoformat()}),
    (FindingsRequest(("drift-1", "drift-2"), AT), {"findingIds": ["drift-1", "drift-2"], "at": AT.isoformat()}),
    (BatchRequest(POSITION), {"start": POSITION.token()}),
]


@pytest.mark.parametrize(("request_", "wire"), REQUESTS, ids=lambda r: type(r).__name__)
def test_activity_requests_keep_their_wire_keys_in_order_and_round_trip(request_: Any, wire: Any) -> None:
    assert request_.to_dict() == wire
    assert list(request_.to_dict()) == list(wire)  # the stamp first, as running instances recorded it
    assert type(request_).from_dict(wire) == request_


def test_a_drift_batch_and_a_drift_run_round_trip_and_the_first_execution_has_no_input() -> None:
    last, more = ApprovedBatch(("drift-1",)), ApprovedBatch(("drift-1", "drift-2"), POSITION)
    assert last.to_dict() == {"findingIds": ["drift-1"]}
    assert ApprovedBatch.from_dict(more.to_dict()) == more and ApprovedBatch.from_dict(last.to_dict()) == last
    assert DriftRun.from_input(None) == DriftRun()
    following = DriftRun().following(("drift-1", "drift-2"), {"drift-1": "Remediated"}, POSITION)
    wire = {"generation": 2, "taken": 2, "outcomes": {"Remediated": 1}, "start": POSITION.token()}
    assert following.to_dict() == wire
    assert DriftRun.from_input(following.to_dict()) == following


def test_a_bad_drift_run_input_names_each_field() -> None:
    with pytest.raises(InvalidInput) as error:
        DriftRun.from_input({"generation": "2", "taken": 1, "outcomes": {"Remediated": "1"}, "start": "AAAA"})
    assert set(reasons(error)) == {"generation", "outcomes.Remediated", "start"}


def test_a_target_round_trips_with_its_field_names_as_wire_keys() -> None:
    assert TARGET.to_dict() == TARGET_WIRE
    assert Target.from_dict(TARGET_WIRE) == TARGET
    assert Target.from_dict(FIRST_TARGET.to_dict()) == FIRST_TARGET


def test_a_deployment_start_round_trips_with_and_without_pre_approval() -> None:
    recorded = deployment(environment="prod")
    plain = DeploymentStart.of(recorded)
    wire = plain.to_dict()
    assert wire == {"deploymentId": recorded.id, "traceId": recorded.traceid, "release": recorded.release.to_dict()}
    assert DeploymentStart.from_dict(wire) == plain
    approved = DeploymentStart.of(recorded, pre_approved="drift finding f-1")
    assert approved.to_dict() == {**wire, "preApproved": "drift finding f-1"}
    assert DeploymentStart.from_dict(approved.to_dict()) == approved
    assert DeploymentStart.instance_id(wire) == recorded.id


def test_a_start_recorded_without_a_trace_id_still_reads() -> None:
    wire = {"deploymentId": "dep-1", "release": release().to_dict()}
    assert DeploymentStart.from_dict(wire).trace_id == ""


def reasons(error: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {field.path: field.reason for field in error.value.errors}


def test_a_bad_step_request_names_every_bad_field_including_nested_ones() -> None:
    bad = {
        **STAMP,
        "at": "yesterday",
        "eventId": 7,
        "target": {**TARGET_WIRE, "desired": "3", "stable_replicas": True},
        "step": {"kind": "Teleport"},
    }
    del bad["deploymentId"]
    with pytest.raises(InvalidInput) as error:
        StepRequest.from_dict(bad)
    found = reasons(error)
    assert set(found) == {"deploymentId", "at", "eventId", "target.desired", "target.stable_replicas", "step"}
    assert found["deploymentId"] == "string required"
    assert "'3'" in found["target.desired"] and "Teleport" in found["step"]


def test_a_request_that_is_no_object_or_lacks_its_target_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        TargetRequest.from_dict({**STAMP, "target": None})
    assert reasons(error) == {"target": "JSON object required (got NoneType)"}
    with pytest.raises(InvalidInput) as error:
        DeploymentRequest.from_dict(["not", "a", "request"])  # type: ignore[arg-type]
    assert "" in reasons(error)


def test_unknown_states_event_types_and_times_without_offset_are_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        TransitionRequest.from_dict({**STAMP, "to": "Sideways"})
    assert list(reasons(error)) == ["to"]
    with pytest.raises(InvalidInput) as error:
        TransitionRequest.from_dict({**STAMP, "to": "Failed", "closing": [{"type": "SomethingHappened", "data": {}}]})
    assert list(reasons(error)) == ["closing[0].type"]
    with pytest.raises(InvalidInput) as error:
        EmitRequest.from_dict({**STAMP, "type": "SomethingHappened", "data": []})
    assert set(reasons(error)) == {"type", "data"}
    with pytest.raises(InvalidInput) as error:
        FindingsRequest.from_dict({"findingIds": ["drift-1", 2], "at": "2026-03-01T12:00:00"})
    assert set(reasons(error)) == {"findingIds[1]", "at"}
    with pytest.raises(InvalidInput) as error:
        ScanRequest.from_dict({})
    assert reasons(error) == {"at": "ISO 8601 time required"}


def test_a_start_with_a_bad_release_names_the_manifest_fields_under_release() -> None:
    document = release().to_dict()
    document["spec"]["services"][0]["image"] = "orders"
    with pytest.raises(InvalidInput) as error:
        DeploymentStart.from_dict({"deploymentId": "dep-1", "traceId": "t", "release": document, "preApproved": 3})
    found = reasons(error)
    assert "preApproved" in found
    assert any(path.startswith("release.spec.services[0].image") for path in found), found
    with pytest.raises(InvalidInput) as error:
        DeploymentStart.instance_id({"release": {}})
    assert reasons(error) == {"deploymentId": "string required"}


def test_steps_keep_their_own_wire_form_inside_a_request() -> None:
    request = StepRequest(**STAMP_FIELDS, target=FIRST_TARGET, step=ScaleRevision("new", 3))
    assert StepRequest.from_dict(request.to_dict()).step == ScaleRevision("new", 3)
