"""Hand-written fakes of ports without a contract suite of their own yet."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

from controlplane.domain.events import Envelope
from controlplane.domain.health import HealthReport, HealthStatus, parse_health_response


class RecordingEventBus:
    """The EventBus port: keeps what was published, in order."""

    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self._lock = threading.Lock()

    def publish(self, events: Sequence[Envelope]) -> None:
        with self._lock:
            self.published.extend(events)


class ScriptedHealthProbe:
    """The HealthProbe port answering from a script: revision name prefix -> status (default Healthy)."""

    def __init__(self, statuses: dict[str, HealthStatus] | None = None) -> None:
        self.statuses = dict(statuses or {})
        self.probes: list[str] = []

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        self.probes.append(revision)
        status = next((s for prefix, s in self.statuses.items() if revision.startswith(prefix)), HealthStatus.HEALTHY)
        body = {
            "status": status.value,
            "totalDuration": "00:00:00.0010000",
            "entries": {"dependency": {"status": status.value, "description": f"{status.value} by script", "data": {}}},
        }
        return parse_health_response(503 if status is HealthStatus.UNHEALTHY else 200, json.dumps(body))
