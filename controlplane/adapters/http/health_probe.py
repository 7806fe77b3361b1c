"""The HealthProbe port over HTTP: probe every replica of a revision, report the worst one.

A revision is as healthy as its least healthy replica: a gate that passed while one replica of three
answered 503 would promote a revision that fails a third of its requests. Each replica is probed on its
own thread, so one hanging replica costs ``timeout_seconds`` once, not once per replica.

    replicas answer              | overall report
    -----------------------------+----------------------------------------------------------------
    200 Healthy, 200 Healthy     | Healthy, the first replica's entries
    200 Healthy, 200 Degraded    | Degraded, the degraded replica's entries
    200 Healthy, refused         | Unhealthy, failure connection_refused
    (no replicas)                | Unhealthy, failure connection_error, "no running replicas"

The detail names the replica the report came from, and how the others fared when there are several.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace

from opentelemetry.trace import SpanKind

from controlplane.domain.health import (
    MAX_BODY_BYTES,
    HealthReport,
    HealthStatus,
    ProbeFailure,
    parse_health_response,
    report_for_probe_error,
)
from controlplane.errors import NotFound
from controlplane.telemetry import traced

Resolve = Callable[[str, str, str], list[str]]
_MAX_THREADS = 32
# Past the socket timeout, how long a response that is still trickling in may take before it counts as hung.
_DEADLINE_GRACE_SECONDS = 1.0
_SEVERITY = {HealthStatus.UNHEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.HEALTHY: 2}


class HttpHealthProbe:
    """Probes ``GET <replica base URL><path>`` of every replica that ``resolve`` names.

    ``resolve(environment, service, revision)`` returns the replicas' base URLs, e.g.
    ``["http://127.0.0.1:40123"]``. Probe failures (timeouts, refused connections, bad bodies) are
    Unhealthy reports, never exceptions; errors of ``resolve`` itself other than ``NotFound`` propagate.
    """

    def __init__(self, resolve: Resolve, timeout_seconds: float = 2.0) -> None:
        self._resolve = resolve
        self._timeout = timeout_seconds
        # No proxies: a health probe must reach the replica itself, whatever HTTP_PROXY says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        """One probe of each replica; the report of the worst, naming it in ``detail``."""
        with traced("probe", kind=SpanKind.CLIENT, environment=environment, service=service, revision=revision) as span:
            report = self._probe(environment, service, revision, path)
            span.set_attribute("health.status", report.status.value)
            return report

    def _probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        what = f"revision {revision} of {service} in {environment}"
        try:
            bases = list(self._resolve(environment, service, revision))
        except NotFound as error:
            return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"{what} has no replicas to probe: {error}")
        if not bases:
            return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"{what} has no running replicas to probe")
        urls = [_join(base, path) for base in bases]
        return _worst_of(urls, self._probe_all(urls))

    def _probe_all(self, urls: list[str]) -> list[HealthReport]:
        executor = ThreadPoolExecutor(max_workers=min(len(urls), _MAX_THREADS), thread_name_prefix="health-probe")
        try:
            futures = [executor.submit(self._probe_one, url) for url in urls]
            wait(futures, timeout=self._timeout + _DEADLINE_GRACE_SECONDS)
            return [self._result(future) for future in futures]
        finally:
            # Do not wait for a hung probe: its socket timeout ends the thread soon after.
            executor.shutdown(wait=False, cancel_futures=True)

    def _result(self, future: Future[HealthReport]) -> HealthReport:
        if not future.done():
            return report_for_probe_error(ProbeFailure.TIMEOUT, f"no complete response within {self._timeout:g} s")
        error = future.exception()
        if error is not None:  # a bug in parsing must not take the gate down with it
            return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"probe failed: {error!r}")
        return future.result()

    def _probe_one(self, url: str) -> HealthReport:
        try:
            status, body, content_type = self._fetch(url)
        except (OSError, http.client.HTTPException, ValueError) as error:
            return self._failure(error)
        return parse_health_response(status, body, content_type)

    def _fetch(self, url: str) -> tuple[int, bytes, str | None]:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json, text/plain", "User-Agent": "controlplane-health-probe"}
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                # One byte over the limit lets the parser say the body is too large.
                return response.status, response.read(MAX_BODY_BYTES + 1), response.headers.get("Content-Type")
        except urllib.error.HTTPError as error:  # 4xx/5xx are still responses, and a 503 carries the report
            with error:
                body = error.read(MAX_BODY_BYTES + 1) if error.fp is not None else b""
                return error.code, body, error.headers.get("Content-Type") if error.headers else None

    def _failure(self, error: BaseException) -> HealthReport:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, TimeoutError):
            return report_for_probe_error(ProbeFailure.TIMEOUT, f"timed out after {self._timeout:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return report_for_probe_error(ProbeFailure.CONNECTION_REFUSED, "connection refused")
        return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, _describe(reason))


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def _describe(reason: object) -> str:
    if isinstance(reason, http.client.RemoteDisconnected):
        return "connection closed without a response"
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
    return str(reason)


def _worst_of(urls: list[str], reports: list[HealthReport]) -> HealthReport:
    """The worst replica's report (a failed probe before a bad answer; the first on ties), ``detail`` naming it."""
    index = min(range(len(reports)), key=lambda i: (_SEVERITY[reports[i].status], reports[i].failure is None, i))
    worst = reports[index]
    origin = f"{urls[index]}: {worst.detail}" if worst.detail else urls[index]
    if len(reports) == 1:
        return replace(worst, detail=origin)
    tally = Counter(_outcome(report) for report in reports)
    counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(tally.items()))
    return replace(worst, detail=f"{len(reports)} replicas ({counts}); worst {origin}")


def _outcome(report: HealthReport) -> str:
    return report.failure.value if report.failure is not None else report.status.value
