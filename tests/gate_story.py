"""A deployment told as its envelopes: the real event builders (``gate_events``, ``deployment_events``) wrapped by
the real ``deployment_envelope``, one second apart (``domain.explain``'s worked examples and the API's schema
test)."""

from __future__ import annotations

from datetime import timedelta

from controlplane.cli.explain_text import render
from controlplane.domain import deployment_events, gate_events
from controlplane.domain.access import Actor
from controlplane.domain.analysis import Measurement, MetricQuery, Verdict
from controlplane.domain.deployment import Deployment, DeploymentState, Transition
from controlplane.domain.event_catalog import EventData
from controlplane.domain.events import Envelope
from controlplane.domain.explain import explain
from controlplane.domain.health import HealthReport, HealthStatus
from controlplane.domain.manifest.analysis import Threshold
from tests.builders import T0, deployment

S = DeploymentState
STEP_1 = "canary step 1: 20% traffic on 1 replicas"
STEP_2 = "canary step 2: 50% traffic on 2 replicas"
SUCCESS_RATE = Threshold(min=0.95)
ALICE = Actor("alice@contoso.com", "8c5f0e7e-0000-4000-8000-00000000a11c", ("Approver",))


class Story:
    """A deployment's envelopes, one second apart, in the order told."""

    def __init__(self, services: tuple[str, ...] = ("api",), deployment_id: str = "dep-7") -> None:
        self.deployment: Deployment = deployment(deployment_id, "dev", services)
        self.envelopes: list[Envelope] = []
        self.tell(deployment_events.requested(self.deployment.release, None))
        self.move(S.PROVISIONING, S.CONFIGURING, S.ROLLING_OUT)

    def tell(self, *events: EventData) -> Story:
        for event in events:
            number = len(self.envelopes) + 1
            self.envelopes.append(
                deployment_events.deployment_envelope(
                    self.deployment,
                    event,
                    event_id=f"e-{number}",
                    source="/tests",
                    time=T0 + timedelta(seconds=number),
                )
            )
        return self

    def move(self, *states: DeploymentState, reason: str = "") -> Story:
        for state in states:
            source = S(self.envelopes[-1].data["to"]) if self.envelopes[-1].type.endswith("StateChanged") else None
            self.tell(deployment_events.state_changed(Transition(source or S.REQUESTED, state, T0, reason)))
        return self

    def probes(self, service: str, revision: str, *statuses: HealthStatus) -> Story:
        for status in statuses:
            report = HealthReport(status, http_status=200 if status is HealthStatus.HEALTHY else 503)
            self.tell(deployment_events.health_check_completed("dev", service, revision, report))
        return self

    def measured(self, where: dict, metric: str, *values: float | None, threshold: Threshold = SUCCESS_RATE) -> Story:
        query = MetricQuery(
            metric, "router", None, "dev", where["service"], where["revision"], 30, "requestSuccessRate"
        )
        for number, value in enumerate(values, start=1):
            text = f"router: 1 - 5xx/requests of revision {where['revision']} over 30s"
            measurement = Measurement(value, text, None if value is not None else "no requests in 30s", 40)
            verdict = Verdict.INCONCLUSIVE if value is None else (Verdict.PASSED if value >= 0.95 else Verdict.FAILED)
            self.tell(gate_events.analysis_measured(where, query, measurement, threshold, verdict, number))
        return self

    def explained(self) -> str:
        return render(explain(self.deployment.id, self.envelopes))
