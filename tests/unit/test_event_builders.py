"""The one builder per event type: each makes data its catalog entry accepts; RuntimeIncidentRaised has one
shape whether a deployment or the failure monitor raises it."""

from __future__ import annotations

from datetime import UTC, datetime

from controlplane.domain import deployment_events, gate_events, loop_events
from controlplane.domain.access import Actor
from controlplane.domain.analysis import Measurement, MetricQuery, MetricTally, Verdict
from controlplane.domain.deployment import DeploymentState, Transition
from controlplane.domain.event_catalog import EventData, EventType, check_data
from controlplane.domain.health import HealthReport, HealthStatus
from controlplane.domain.hooks import HookCall, HookOutcome
from controlplane.domain.manifest.analysis import InconclusivePolicy, Threshold
from controlplane.domain.runtime import EnvironmentOutputs
from tests.builders import finding, release

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def incident(services: list[str], chain: list[dict] | None) -> dict:
    event = deployment_events.incident_raised(
        incident_id="incident-1",
        reason="restore failed",
        environment="prod",
        services=services,
        deployment_id="dep-1",
        traceid=TRACE,
        chain=chain,
    )
    assert event.type is EventType.RUNTIME_INCIDENT_RAISED
    return dict(event.data)


def test_an_incident_has_one_shape_from_the_monitor_and_from_a_deployment() -> None:
    from_monitor = incident(["orders"], [{"id": "e1"}, {"id": "e2"}])
    from_deployment = incident(["orders", "billing"], None)
    assert set(from_monitor) == set(from_deployment)
    assert set(from_monitor["chain"]) == set(from_deployment["chain"])
    assert from_monitor["service"] == "orders" and from_deployment["service"] is None
    assert from_deployment["services"] == ["orders", "billing"]
    assert from_monitor["chain"]["events"] == [{"id": "e1"}, {"id": "e2"}] and from_monitor["chain"]["complete"]
    assert from_deployment["chain"] == {
        "traceId": TRACE,
        "events": [],
        "complete": False,
        "href": f"/api/events?traceId={TRACE}",
        "traceRef": f"/api/events?traceId={TRACE}",
        "replay": f"python -m controlplane replay {TRACE}",
    }


def test_an_incident_inlines_at_most_its_limit_of_events() -> None:
    chain = [{"id": f"e{n}"} for n in range(deployment_events.MAX_CHAIN_EVENTS + 1)]
    data = incident(["orders"], chain)
    assert len(data["chain"]["events"]) == deployment_events.MAX_CHAIN_EVENTS
    assert data["chain"]["complete"] is False


ANA = Actor("ana", "oid-ana", ("Approver", "Operator"))


def gate_built() -> list[EventData]:
    """The gate events' builders (controlplane.domain.gate_events), one call each."""
    where = gate_events.gate_of("orders", "orders--2", 1, "canary step 1: 10% traffic on 1 replicas")
    query = MetricQuery("success", "router", None, "dev", "orders", "orders--2", 30, builtin="requestSuccessRate")
    tally = MetricTally("success", passed=1, failed=2)
    call = HookCall("smoke", "rollout", "https://hooks.example.com/x?token=secret", "d-1", 10, 2, None, {})
    return [
        gate_events.health_gate_completed(where, "passed", 2, 0, "Healthy (2 passing probes in a row)"),
        gate_events.analysis_measured(
            where, query, Measurement(0.8, "router counters"), Threshold(min=0.95), Verdict.FAILED, 1
        ),
        gate_events.analysis_completed(where, Verdict.FAILED, "success 0.8 < min 0.95", [(tally, Verdict.FAILED)]),
        gate_events.analysis_held(where, "success: no value", InconclusivePolicy(timeout_seconds=600)),
        gate_events.analysis_hold_resolved(where, "approved", "continue", ANA),
        gate_events.webhook_called(call, HookOutcome(200, 1), "passed", where),
        gate_events.promotion_held("orders", "confirm", "not confirmed yet"),
        gate_events.wave_started(1, 2, ["orders"], []),
        gate_events.wave_completed(1, 2, ["orders"], "passed"),
    ]


def test_every_builder_makes_data_its_catalog_entry_accepts() -> None:
    report = HealthReport(HealthStatus.HEALTHY)
    built = [
        *gate_built(),
        deployment_events.requested(release(), ANA),
        deployment_events.requested(release(), None),  # the control plane asked itself
        deployment_events.state_changed(Transition(DeploymentState.REQUESTED, DeploymentState.PROVISIONING, T0)),
        deployment_events.state_changed(
            Transition(DeploymentState.HEALTH_GATING, DeploymentState.ROLLING_BACK, T0, "aborted by ana: x", ANA)
        ),
        deployment_events.approved("prod", "promotion to prod", None, ANA, "CHG-1"),
        loop_events.finding_decided(finding(), "dismiss", ANA, "accepted"),
        loop_events.drift_run_requested("drift", ANA, None),
        deployment_events.environment_provisioned(EnvironmentOutputs("dev", {"a": "b"}, changed=True)),
        deployment_events.approval_requested("prod", "promotion to prod", None),
        deployment_events.completed("dev", {"orders": "orders--1"}),
        deployment_events.rolled_back("gate failed", "dep-0", {"orders": "Healthy"}, ["billing"]),
        deployment_events.failed("provisioning failed"),
        deployment_events.health_check_completed("dev", "orders", "orders--1", report),
        loop_events.drift_detected(
            finding_id="f-1",
            environment="dev",
            service="orders",
            classification="auto-remediable",
            kind="mismatch",
            diff={},
            status="Open",
            desired_revision=None,
        ),
        loop_events.drift_remediated(finding(), {"deploymentId": "dep-2"}),
        loop_events.scaling_applied(
            "dev", "orders", {"from": 1, "to": 2, "rule": "cpu", "reason": "r", "metrics": {}, "revision": "x"}
        ),
        loop_events.scaling_violated("dev", "orders", 12, 10, "cpu 95%"),
        loop_events.condition_changed("dev", "orders", "Healthy", "Degraded", "probe failed", "dep-1"),
        deployment_events.incident_raised(
            incident_id="i",
            reason="r",
            environment="dev",
            services=["orders"],
            deployment_id="d",
            traceid=TRACE,
            chain=[],
        ),
    ]
    deployment_data = {"deploymentId": "dep-1"}  # the deployment's envelope adds it
    for event in built:
        check_data(event.type, {**deployment_data, **event.data})
    assert {event.type for event in built} == set(EventType)
    operators = [event.data["actor"] for event in built if event.data.get("actor") is not None]
    assert len(operators) == 6 and all(actor == ANA.to_dict() for actor in operators)
