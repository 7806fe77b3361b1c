"""Envelope ↔ Service Bus message: the mapping ARCHITECTURE.md fixes, both ways."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from controlplane.adapters.azure.servicebus.mapping import (
    MessageFields,
    envelope_to_message,
    iso8601_duration,
    message_to_envelope,
)
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import CONTENT_TYPE, TraceContext, new_event
from controlplane.errors import InvalidEnvelope
from tests.builders import T0

TRACE = TraceContext(traceid="4bf92f3577b34da6a3ce929d0e0e4736", correlationid="dep-1")


def applied(data_overrides: dict | None = None):
    data = {"environment": "dev", "service": "orders", "from": 2, "to": 4, "rule": "cpu", **(data_overrides or {})}
    return new_event(
        EventType.SCALING_POLICY_APPLIED,
        event_id="00000000-0000-0000-0000-000000000001",
        source="/runtime-control-plane/scaling",
        time=T0,
        trace=TRACE,
        data=data,
    )


def test_message_fields_follow_the_architecture_mapping() -> None:
    envelope = applied()
    message = envelope_to_message(envelope)
    assert message.message_id == envelope.id
    assert message.correlation_id == TRACE.traceid
    assert message.subject == "ScalingPolicyApplied"
    assert message.content_type == "application/cloudevents+json"
    assert dict(message.application_properties) == {
        "type": "ScalingPolicyApplied",
        "traceid": TRACE.traceid,
        "environment": "dev",
        "service": "orders",
    }
    assert json.loads(message.body) == envelope.to_dict()


def test_environment_and_service_properties_are_omitted_when_data_lacks_them() -> None:
    envelope = new_event(
        EventType.RUNTIME_DEPLOYMENT_STATE_CHANGED,
        event_id="00000000-0000-0000-0000-000000000002",
        source="/runtime-control-plane/deployments",
        time=T0,
        trace=TRACE,
        data={"deploymentId": "dep-1", "from": "Requested", "to": "Provisioning"},
    )
    assert dict(envelope_to_message(envelope).application_properties) == {
        "type": "RuntimeDeploymentStateChanged",
        "traceid": TRACE.traceid,
    }


def test_non_string_environment_is_not_a_filter_property() -> None:
    message = envelope_to_message(applied({"environment": {"name": "dev"}}))
    assert "environment" not in message.application_properties


def test_a_message_round_trips_to_the_same_envelope() -> None:
    envelope = applied()
    message = envelope_to_message(envelope)
    assert message_to_envelope(message.body, message.content_type) == envelope


@pytest.mark.parametrize("content_type", [CONTENT_TYPE, "Application/CloudEvents+JSON; charset=utf-8"])
def test_the_content_type_is_matched_without_case_or_parameters(content_type: str) -> None:
    message = envelope_to_message(applied())
    assert message_to_envelope(message.body, content_type).id == message.message_id


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain"])
def test_a_wrong_content_type_is_an_invalid_envelope_naming_the_field(content_type: str | None) -> None:
    with pytest.raises(InvalidEnvelope) as raised:
        message_to_envelope(envelope_to_message(applied()).body, content_type)
    assert [error.path for error in raised.value.errors] == ["content_type"]
    assert "application/cloudevents+json" in str(raised.value)


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_an_invalid_envelope(body: bytes) -> None:
    with pytest.raises(InvalidEnvelope):
        message_to_envelope(body, CONTENT_TYPE)


def test_a_cloudevent_missing_our_extensions_is_an_invalid_envelope() -> None:
    document = applied().to_dict()
    del document["traceid"]
    with pytest.raises(InvalidEnvelope) as raised:
        message_to_envelope(json.dumps(document).encode(), CONTENT_TYPE)
    assert "traceid" in {error.path for error in raised.value.errors}


def test_message_fields_are_immutable() -> None:
    message = MessageFields("id-1", None, None, None, {"type": "X"}, b"")
    with pytest.raises(TypeError):
        message.application_properties["type"] = "Y"  # type: ignore[index]


@pytest.mark.parametrize(("seconds", "text"), [(60, "PT1M"), (90, "PT1M30S"), (5, "PT5S"), (300, "PT5M"), (0, "PT0S")])
def test_a_lock_duration_is_written_as_arm_writes_it(seconds: int, text: str) -> None:
    assert iso8601_duration(timedelta(seconds=seconds)) == text
