"""An AnalysisProvider fake: answers each (service, metric) from a script of values; None is no data."""

from __future__ import annotations

import threading

from controlplane.domain.analysis import Measurement, MetricQuery


class ScriptedAnalysis:
    """``script(service, metric, *values)`` queues values (None: no data) for a metric of a service; once used
    up, the last one repeats. A metric with no script has no data. ``down`` makes every provider unreachable
    (a metric outage). Records every query it was asked."""

    def __init__(self) -> None:
        self.queries: list[MetricQuery] = []
        self.down = False
        self._values: dict[tuple[str, str], list[float | None]] = {}
        self._lock = threading.Lock()

    def script(self, service: str, metric: str, *values: float | None) -> None:
        with self._lock:
            self._values[(service, metric)] = list(values)

    def measure(self, query: MetricQuery) -> Measurement:
        text = query.filled() if query.query is not None else f"scripted {query.builtin} of {query.revision}"
        with self._lock:
            self.queries.append(query)
            if self.down:
                return Measurement(None, text, f"{query.provider}: connection refused (scripted outage)")
            queued = self._values.get((query.service, query.metric), [])
            value = queued.pop(0) if len(queued) > 1 else queued[0] if queued else None
        if value is None:
            return Measurement(None, text, f"no data for {query.metric} of {query.revision}")
        return Measurement(value, text, samples=100)
