"""Local metrics: cpu and queue scraped from each replica's ``GET /metrics``, rps from the local router."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controlplane.adapters.local.compute import LocalCompute
from controlplane.adapters.local.router import LocalRouter
from controlplane.domain.runtime import MetricKind, MetricReading
from controlplane.errors import ControlPlaneError


@dataclass(frozen=True)
class _Scrape:
    """What the replicas of one service answered: one ``/metrics`` body per live replica, and the failures."""

    bodies: list[dict[str, object]]
    failures: list[str]


class LocalMetrics:
    """The Metrics port over local compute: replicas' ``/metrics`` for cpu and queue, the router for rps.

    - ``cpu``: the average ``cpu_percent`` over the replicas that answered.
    - ``queue``: the largest ``queue_length`` any replica reports (the replicas share one queue).
    - ``rps``: the router's requests per second over its window, across all revisions of the service.

    Only managed revisions with running replicas are scraped. A replica that fails is left out; a metric
    with no data at all (no replicas, every replica failing, a body without the field, a service the router
    does not know) is a reading with ``value=None`` and an error naming why. Nothing is raised.
    """

    def __init__(self, compute: LocalCompute, router: LocalRouter, timeout_seconds: float = 1.0) -> None:
        self._compute = compute
        self._router = router
        self._timeout = timeout_seconds

    def read(self, environment: str, service: str, metrics: Iterable[MetricKind]) -> list[MetricReading]:
        """One reading per metric asked for; failures become readings with ``value=None`` and an error."""
        kinds = [MetricKind(kind) for kind in metrics]
        where = f"{environment}/{service}"
        scrape = None
        if {MetricKind.CPU, MetricKind.QUEUE} & set(kinds):
            scrape = self._scrape(environment, service)
        readings = []
        for kind in kinds:
            if kind is MetricKind.RPS:
                readings.append(self._rps(environment, service))
            else:
                assert scrape is not None
                field, combine = ("cpu_percent", _average) if kind is MetricKind.CPU else ("queue_length", max)
                readings.append(_from_replicas(kind, where, scrape, field, combine))
        return readings

    def _scrape(self, environment: str, service: str) -> _Scrape:
        bodies: list[dict[str, object]] = []
        failures: list[str] = []
        try:
            revisions = [
                w.revision
                for w in self._compute.inventory(environment)
                if w.service == service and w.managed and w.replicas > 0
            ]
            urls = [url for name in revisions for url in self._compute.endpoints(environment, service, name)]
        except ControlPlaneError as error:  # e.g. a revision removed between inventory and endpoints
            return _Scrape([], [f"local compute: {error}"])
        for url in urls:
            try:
                with urllib.request.urlopen(url + "/metrics", timeout=self._timeout) as response:
                    body = json.loads(response.read())
            except (OSError, ValueError) as error:  # URLError, HTTPError and timeouts are OSErrors
                failures.append(f"{url}/metrics: {error}")
                continue
            if isinstance(body, dict):
                bodies.append(body)
            else:
                failures.append(f"{url}/metrics: expected a JSON object (got {type(body).__name__})")
        return _Scrape(bodies, failures)

    def _rps(self, environment: str, service: str) -> MetricReading:
        where = f"{environment}/{service}"
        # stats() allocates a route (and ports) for a service it has never seen, so ask only about known ones.
        try:
            if not any(w.service == service for w in self._compute.inventory(environment)):
                return MetricReading(MetricKind.RPS, None, f"{where}: no revision of this service on local compute")
            value = self._router.stats(environment, service)["rps"]
        except (ControlPlaneError, KeyError) as error:
            return MetricReading(MetricKind.RPS, None, f"{where}: the local router has no rps ({error!r})")
        return MetricReading(MetricKind.RPS, float(value))


def _from_replicas(
    kind: MetricKind, where: str, scrape: _Scrape, field: str, combine: Callable[[list[float]], float]
) -> MetricReading:
    values: list[float] = [float(value) for body in scrape.bodies if isinstance(value := body.get(field), int | float)]
    if values:
        return MetricReading(kind, float(combine(values)))
    if not scrape.bodies and not scrape.failures:
        reason = "no running replica to read; deploy or scale up a revision"
    elif not scrape.bodies:
        reason = "every replica failed to answer /metrics: " + "; ".join(scrape.failures)
    else:
        reason = f'no replica reported "{field}" in /metrics'
    return MetricReading(kind, None, f"{where} {kind}: {reason}")


def _average(values: list[float]) -> float:
    return sum(values) / len(values)
