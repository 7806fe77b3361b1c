"""Spans: every activity, probe and publish of a flow is in the trace whose id is the envelopes' traceid."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from controlplane.domain.deployment import DeploymentState
from controlplane.telemetry import install_log_context, traced
from tests.workflow_world import World, release

_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The process's span exporter (OpenTelemetry allows one global provider per process), emptied."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    _exporter.clear()
    return _exporter


def test_a_deployment_reads_end_to_end_under_its_traceid(world: World, spans: InMemorySpanExporter) -> None:
    deployment_id = world.deploy(release("1.0.0"))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    traceid = world.store.deployments.get_deployment(deployment_id).traceid

    ours = [s for s in spans.get_finished_spans() if f"{s.context.trace_id:032x}" == traceid]
    names = {s.name for s in ours}
    expected = {"activity record_transition", "activity apply_steps", "activity run_health_gate", "activity promote"}
    assert expected <= names
    assert "publish HealthCheckCompleted" in names
    events = world.store.event_log.events_for_trace(traceid)
    completed = next(e.id for e in events if e.type == "RuntimeDeploymentCompleted")
    published = {event_id for s in ours if s.name.startswith("publish ") for event_id in s.attributes["eventIds"]}
    assert completed in published  # with the Completed transition, in one publish
    closing = next(s for s in ours if s.name.startswith("publish ") and completed in s.attributes["eventIds"])
    types = closing.attributes["eventTypes"].split(",")  # what infra/alerts.py's KQL expands, id by id
    assert types[list(closing.attributes["eventIds"]).index(completed)] == "RuntimeDeploymentCompleted"
    activities = [s for s in ours if s.name.startswith("activity ")]
    assert all(s.attributes["deploymentId"] == deployment_id for s in activities)
    transitions = {s.attributes.get("step") for s in ours if s.name == "activity record_transition"}
    assert {"Provisioning", "RollingOut", "Completed"} <= transitions


def test_logs_inside_a_span_carry_the_flow_fields(caplog: pytest.LogCaptureFixture) -> None:
    install_log_context()
    log = logging.getLogger("controlplane.test")
    with caplog.at_level(logging.INFO, logger="controlplane.test"):
        with traced("step", "4bf92f3577b34da6a3ce929d0e0e4736", deploymentId="dep-1", service="orders"):
            log.info("inside")
        log.info("outside")
    inside, outside = caplog.records
    expected = ("4bf92f3577b34da6a3ce929d0e0e4736", "dep-1", "orders")
    assert (inside.traceid, inside.deploymentId, inside.service) == expected
    assert (outside.traceid, outside.deploymentId) == ("", "")


def test_a_span_in_a_known_trace_keeps_it_and_a_nested_one_shares_it(spans: InMemorySpanExporter) -> None:
    with traced("outer", "4bf92f3577b34da6a3ce929d0e0e4736"):
        with traced("inner", "4bf92f3577b34da6a3ce929d0e0e4736"):
            pass
        with traced("elsewhere", "0af7651916cd43dd8448eb211c80319c"):
            pass
    found = {s.name: s for s in spans.get_finished_spans()}
    assert f"{found['outer'].context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert found["inner"].parent.span_id == found["outer"].context.span_id
    assert f"{found['elsewhere'].context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
