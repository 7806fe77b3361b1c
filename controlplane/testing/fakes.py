"""Hand-written fakes of ports without a contract suite of their own yet."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from controlplane.domain.events import Envelope
from controlplane.domain.health import (
    HealthReport,
    HealthStatus,
    ProbeFailure,
    parse_health_response,
    report_for_probe_error,
)
from controlplane.domain.manifest import Release
from controlplane.domain.runtime import EnvironmentOutputs, MetricKind, MetricReading
from controlplane.errors import NotFound, TransientError


class RecordingEventBus:
    """The EventBus port: keeps what was published, in order."""

    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self._lock = threading.Lock()

    def publish(self, events: Sequence[Envelope]) -> None:
        with self._lock:
            self.published.extend(events)


class FailingEventBus(RecordingEventBus):
    """A RecordingEventBus whose next ``failures`` publishes fail (TransientError) with nothing published."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def publish(self, events: Sequence[Envelope]) -> None:
        with self._lock:
            self.attempts += 1
            if self.failures > 0:
                self.failures -= 1
                raise TransientError("event bus unavailable (scripted failure)")
        super().publish(events)


class ScriptedHealthProbe:
    """The HealthProbe port answering from a script: revision name prefix -> status (default Healthy);
    ``None`` scripts a revision with nothing to probe (an Unhealthy connection-error report)."""

    def __init__(self, statuses: dict[str, HealthStatus | None] | None = None) -> None:
        self.statuses = dict(statuses or {})
        self.probes: list[str] = []

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        self.probes.append(revision)
        matches = [s for prefix, s in self.statuses.items() if revision.startswith(prefix)]
        status = matches[0] if matches else HealthStatus.HEALTHY
        if status is None:
            return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"{revision} has no replicas to probe")
        body: dict[str, Any] = {
            "status": status.value,
            "totalDuration": "00:00:00.0010000",
            "entries": {"dependency": {"status": status.value, "description": f"{status.value} by script", "data": {}}},
        }
        return parse_health_response(503 if status is HealthStatus.UNHEALTHY else 200, json.dumps(body))


class ScriptedMetrics:
    """The Metrics port answering from a script: (environment, service) -> metric -> value.

    A metric the script has no value for (or ``None``) is a no-data reading, as an outage would be.
    """

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], dict[str, float | None]] = {}
        self.reads = 0

    def set(self, environment: str, service: str, **values: float | None) -> None:
        self.values[(environment, service)] = dict(values)

    def read(self, environment: str, service: str, metrics: Iterable[MetricKind]) -> list[MetricReading]:
        self.reads += 1
        script = self.values.get((environment, service), {})
        readings = []
        for kind in metrics:
            value = script.get(MetricKind(kind).value)
            error = None if value is not None else f"{environment}/{service}: no data for {MetricKind(kind).value}"
            readings.append(MetricReading(MetricKind(kind), value, error))
        return readings


class RecordingProvisioner:
    """The Provisioner port for any compute: records each environment it was asked for, changes nothing real."""

    def __init__(self) -> None:
        self.provisioned: dict[str, EnvironmentOutputs] = {}
        self.drifted: dict[str, list[str]] = {}

    def ensure_environment(self, release: Release) -> EnvironmentOutputs:
        environment = release.spec.environment
        changed = environment.name not in self.provisioned
        outputs = {"compute": environment.compute, "region": environment.region}
        self.provisioned[environment.name] = EnvironmentOutputs(environment.name, outputs, changed=False)
        return EnvironmentOutputs(environment.name, outputs, changed)

    def outputs(self, environment: str) -> EnvironmentOutputs:
        if environment not in self.provisioned:
            raise NotFound(f"environment {environment!r} was never provisioned")
        return self.provisioned[environment]

    def drift(self, environment: str) -> list[str]:
        self.outputs(environment)
        return list(self.drifted.get(environment, []))
