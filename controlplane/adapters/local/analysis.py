"""Metric analysis on the local host: the builtin metrics of a revision, read from the local router's counters.

- ``requestSuccessRate``: ``1 - errors / requests`` of the revision over the window, where an error is an
  answer with status >= 500: the app's own 5xx (a revision can answer 500s while its health checks say
  Healthy), and the router's 502 when every replica of the revision refused or failed. 4xx are successes:
  the app answered as designed.
- ``requestLatency``: the ``percentile`` (nearest rank, ``request_log.percentile``) of the revision's request
  durations in ms over the window, errors included, as the router timed them: from the request's arrival at
  the router until the backend's whole answer was read.

Only the revision asked about counts (``query.revision``): while a canary splits traffic, the stable
revision's requests are not in the new revision's numbers. Both router ports count, so a blue-green preview
is measured by the traffic sent to its preview URL. No request in the window is no data (value None, an
inconclusive measurement), never a success rate of 1.
"""

from __future__ import annotations

from controlplane.adapters.local.request_log import HORIZON_SECONDS, RequestWindow, percentile
from controlplane.adapters.local.router import LocalRouter
from controlplane.domain.analysis import Measurement, MetricQuery

DEFAULT_PERCENTILE = 95.0  # the manifest's default for requestLatency


class RouterAnalysis:
    """The AnalysisProvider for ``provider: router``: the builtin metrics of one revision from ``LocalRouter``.

    Never raises: another provider's query, a custom query, an unknown builtin, a window or percentile out of
    range, a service or revision the router does not know, and no traffic are measurements with value None
    and an error naming why. Reading never starts the router nor gives a service a route.
    """

    def __init__(self, router: LocalRouter) -> None:
        self._router = router

    def measure(self, query: MetricQuery) -> Measurement:
        text = describe(query)
        refusal = _refusal(query)
        if refusal:
            return Measurement(None, text, refusal)
        where = f"{query.environment}/{query.service}"
        window = self._router.window(query.environment, query.service, query.revision, query.window_seconds)
        if window is None:
            return Measurement(
                None,
                text,
                f"the local router has no revision {query.revision} of {where} (no replicas, traffic or "
                "preview role were ever given to it): check the service and revision names",
            )
        if window.requests == 0:
            return Measurement(None, text, f"no traffic to {query.revision} in the last {query.window_seconds}s", 0)
        if window.truncated:
            text += f" (the latest {window.requests} requests: the router keeps a bounded number per revision)"
        return Measurement(_value(query, window), text, samples=window.requests)


def describe(query: MetricQuery) -> str:
    """What the router reads for ``query``, e.g. ``router dev/api: 1 - 5xx/requests of revision api-x over 30s``."""
    where = f"router {query.environment}/{query.service}"
    over = f"of revision {query.revision} over {query.window_seconds}s"
    if query.query is not None:
        return f"{where}: custom query of metric {query.metric} (the router answers builtin metrics only)"
    if query.builtin == "requestSuccessRate":
        return f"{where}: 1 - 5xx/requests {over}"
    if query.builtin == "requestLatency":
        percent = query.percentile if query.percentile is not None else DEFAULT_PERCENTILE
        return f"{where}: p{percent:g} (nearest rank) of request duration in ms {over}"
    return f"{where}: builtin {query.builtin} of metric {query.metric} {over}"


def _refusal(query: MetricQuery) -> str | None:
    """Why the router cannot answer ``query`` at all, or None."""
    if query.provider != "router":
        return f"provider {query.provider} asked of the local router, which answers provider router only"
    if query.query is not None:
        return "the router answers builtin metrics only; a query needs provider applicationInsights or prometheus"
    if query.builtin not in ("requestSuccessRate", "requestLatency"):
        return f"unknown builtin {query.builtin!r}: the router answers requestSuccessRate and requestLatency"
    if not 0 < query.window_seconds <= HORIZON_SECONDS:
        return f"window of {query.window_seconds}s out of range: the router keeps {HORIZON_SECONDS:g}s of requests"
    if query.builtin == "requestLatency" and query.percentile is not None and not 0 < query.percentile <= 100:
        return f"percentile {query.percentile:g} out of range: it must be more than 0 and at most 100"
    return None


def _value(query: MetricQuery, window: RequestWindow) -> float:
    if query.builtin == "requestSuccessRate":
        return 1 - window.errors / window.requests
    return percentile(window.durations_ms, query.percentile if query.percentile is not None else DEFAULT_PERCENTILE)
