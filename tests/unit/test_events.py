"""Event envelopes: catalog, lossless round trips, and parsing by the official CloudEvents SDK."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cloudevents.core.formats.json import JSONFormat
from hypothesis import given
from hypothesis import strategies as st

from controlplane.domain.event_catalog import CATALOG, EventType
from controlplane.domain.events import CONTENT_TYPE, Envelope, TraceContext, new_event, span_id_for
from controlplane.errors import InvalidEnvelope
from tests.builders import T0

TRACE = TraceContext(traceid="4bf92f3577b34da6a3ce929d0e0e4736", correlationid="dep-1")


def sample(event_type: EventType, number: int = 1, causationid: str | None = None) -> Envelope:
    data = {key: f"value-{key}" for key in CATALOG[event_type].required}
    return new_event(
        event_type,
        event_id=f"00000000-0000-0000-0000-{number:012d}",
        source="/runtime-control-plane/deployments",
        subject="deployments/dep-1",
        time=T0 + timedelta(seconds=number),
        trace=TRACE,
        data=data,
        causationid=causationid,
    )


def test_the_catalog_names_every_event_type_of_the_design() -> None:
    assert {t.value for t in EventType} == {
        "RuntimeDeploymentRequested",
        "RuntimeDeploymentStateChanged",
        "RuntimeEnvironmentProvisioned",
        "RuntimeDeploymentApprovalRequested",
        "RuntimeDeploymentApproved",
        "RuntimeDeploymentCompleted",
        "RuntimeDeploymentRolledBack",
        "RuntimeDeploymentFailed",
        "HealthCheckCompleted",
        "RuntimeDriftDetected",
        "RuntimeDriftRemediated",
        "RuntimeDriftFindingDecided",
        "RuntimeDriftRunRequested",
        "ScalingPolicyApplied",
        "ScalingPolicyViolated",
        "RuntimeIncidentRaised",
        "RuntimeServiceConditionChanged",
        "RuntimeHealthGateCompleted",
        "RuntimeAnalysisMeasured",
        "RuntimeAnalysisCompleted",
        "RuntimeAnalysisHeld",
        "RuntimeAnalysisHoldResolved",
        "RuntimeWebhookCalled",
        "RuntimePromotionHeld",
        "RuntimeReleaseWaveStarted",
        "RuntimeReleaseWaveCompleted",
    }
    assert set(CATALOG) == set(EventType)


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_kind_of_envelope_parses_with_the_cloudevents_sdk(event_type: EventType) -> None:
    envelope = sample(event_type, causationid="00000000-0000-0000-0000-000000000000")
    parsed = JSONFormat().read(None, envelope.to_json())
    assert parsed.get_specversion() == "1.0"
    assert parsed.get_id() == envelope.id
    assert parsed.get_type() == event_type.value
    assert parsed.get_source() == envelope.source
    assert parsed.get_subject() == "deployments/dep-1"
    assert parsed.get_time() == envelope.time
    assert parsed.get_datacontenttype() == "application/json"
    assert parsed.get_extension("traceid") == TRACE.traceid
    assert parsed.get_extension("traceparent") == f"00-{TRACE.traceid}-{span_id_for(envelope.id)}-01"
    assert parsed.get_extension("correlationid") == "dep-1"
    assert parsed.get_extension("causationid") == "00000000-0000-0000-0000-000000000000"
    assert parsed.get_data() == dict(envelope.data)


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_kind_of_envelope_round_trips_losslessly(event_type: EventType) -> None:
    envelope = sample(event_type)
    assert Envelope.from_dict(envelope.to_dict()) == envelope
    assert Envelope.from_json(envelope.to_json()) == envelope
    assert Envelope.from_dict(envelope.to_dict()).to_dict() == envelope.to_dict()


def test_unknown_extensions_survive_a_round_trip() -> None:
    document = sample(EventType.HEALTH_CHECK_COMPLETED).to_dict() | {"partitionkey": "dev"}
    assert Envelope.from_dict(document).to_dict() == document


def test_time_is_rfc3339_utc_with_z() -> None:
    assert sample(EventType.RUNTIME_DEPLOYMENT_COMPLETED).to_dict()["time"] == "2026-11-26T12:00:01.000000Z"


def test_the_same_step_builds_the_same_event() -> None:
    assert (
        sample(EventType.RUNTIME_DEPLOYMENT_COMPLETED).to_json()
        == sample(EventType.RUNTIME_DEPLOYMENT_COMPLETED).to_json()
    )


def test_catalog_events_must_carry_their_required_data() -> None:
    with pytest.raises(ValueError, match="RuntimeDeploymentStateChanged data is missing from, to"):
        new_event(
            EventType.RUNTIME_DEPLOYMENT_STATE_CHANGED,
            event_id="e",
            source="/s",
            time=T0,
            trace=TRACE,
            data={"deploymentId": "dep-1"},
        )


def test_a_malformed_envelope_names_every_bad_attribute() -> None:
    document = sample(EventType.RUNTIME_DEPLOYMENT_FAILED).to_dict()
    document.update(specversion="0.3", traceid="XYZ", time="yesterday", Bad_Ext=1)
    del document["id"]
    with pytest.raises(InvalidEnvelope) as raised:
        Envelope.from_dict(document)
    paths = {error.path for error in raised.value.errors}
    assert {"specversion", "id", "traceid", "time", "traceparent", "Bad_Ext"} <= paths


def test_a_traceparent_from_another_trace_is_refused() -> None:
    document = sample(EventType.RUNTIME_DEPLOYMENT_FAILED).to_dict()
    document["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with pytest.raises(InvalidEnvelope, match="differs from traceid"):
        Envelope.from_dict(document)


@pytest.mark.parametrize("text", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_bodies_that_are_not_a_json_object_are_invalid(text: bytes) -> None:
    with pytest.raises(InvalidEnvelope):
        Envelope.from_json(text)


def test_trace_ids_must_be_32_hex_and_not_all_zero() -> None:
    with pytest.raises(ValueError):
        TraceContext("0" * 32, "dep-1")
    assert TraceContext.from_uuid("4BF92F35-77B3-4DA6-A3CE-929D0E0E4736", "dep-1").traceid == TRACE.traceid


def test_the_service_bus_content_type_is_structured_cloudevents() -> None:
    assert CONTENT_TYPE == "application/cloudevents+json"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(
    data=st.dictionaries(st.text(min_size=1, max_size=10), _json_values, max_size=5),
    subject=st.none() | st.text(min_size=1, max_size=30),
    seconds=st.integers(0, 10**8),
)
def test_any_json_data_round_trips(data: dict, subject: str | None, seconds: int) -> None:
    envelope = Envelope(
        id="e-1",
        source="/s",
        type="Custom",
        time=T0 + timedelta(seconds=seconds, microseconds=7),
        data=data,
        traceid=TRACE.traceid,
        traceparent=f"00-{TRACE.traceid}-{span_id_for('e-1')}-01",
        correlationid="c",
        subject=subject,
    )
    assert Envelope.from_json(json.dumps(envelope.to_dict())) == envelope


def test_an_event_written_by_the_cloudevents_sdk_parses_as_an_envelope() -> None:
    from cloudevents.core.v1.event import CloudEvent

    written = JSONFormat().write(
        CloudEvent(
            attributes={
                "id": "sdk-1",
                "source": "/pipeline",
                "type": EventType.RUNTIME_DEPLOYMENT_REQUESTED.value,
                "specversion": "1.0",
                "time": T0,
                "datacontenttype": "application/json",
                "traceid": TRACE.traceid,
                "traceparent": f"00-{TRACE.traceid}-{span_id_for('sdk-1')}-01",
                "correlationid": "dep-9",
            },
            data={"deploymentId": "dep-9"},
        )
    )
    envelope = Envelope.from_json(written)
    assert envelope.event_type is EventType.RUNTIME_DEPLOYMENT_REQUESTED
    assert envelope.time == T0
    assert envelope.correlationid == "dep-9"
    assert envelope.data == {"deploymentId": "dep-9"}
