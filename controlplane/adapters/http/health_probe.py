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

Redirects are not followed: a 3xx is an Unhealthy report (unexpected_status) naming where it pointed. An
ASP.NET Core HealthChecks endpoint answers for itself; a redirect means something in front of it answered
instead (HTTPS redirection, a login page, a moved route), and following it read a 302 to a Healthy page as
Healthy. Kubernetes' kubelet follows redirects to the same host and counts one to another host as a success
with a warning; a gate that promotes a release is stricter than a liveness check, so neither is followed here.

Endpoints are resolved through ``CachedEndpoints`` (``endpoints.py``) when ``endpoint_ttl_seconds`` is set:
a report from reused endpoints that is not Healthy is never trusted as it is; the revision is resolved afresh and,
if its endpoints changed, those are probed and their report is the answer.

What a report keeps is capped (``controlplane.domain.health_cap``): a body of up to 1 MiB is judged whole, and
the report stored in the event log and the deployment record always fits them.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from email.message import Message

from opentelemetry.trace import SpanKind

from controlplane.adapters.http.endpoints import CachedEndpoints, Resolve
from controlplane.domain.health import (
    MAX_BODY_BYTES,
    HealthReport,
    HealthStatus,
    ProbeFailure,
    parse_health_response,
    report_for_probe_error,
)
from controlplane.domain.health_cap import capped
from controlplane.errors import NotFound
from controlplane.telemetry import traced

_MAX_THREADS = 32
# Past the socket timeout, how long a response that is still trickling in may take before it counts as hung.
_DEADLINE_GRACE_SECONDS = 1.0
_SEVERITY = {HealthStatus.UNHEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.HEALTHY: 2}


class HttpHealthProbe:
    """Probes ``GET <replica base URL><path>`` of every replica that ``resolve`` names.

    ``resolve(environment, service, revision)`` returns the replicas' base URLs, e.g.
    ``["http://127.0.0.1:40123"]``. Probe failures (timeouts, refused connections, bad bodies) are
    Unhealthy reports, never exceptions; errors of ``resolve`` itself other than ``NotFound`` propagate.
    ``endpoint_ttl_seconds``: how long a revision's resolved endpoints are reused (0: resolved for every probe).
    """

    def __init__(self, resolve: Resolve, timeout_seconds: float = 2.0, endpoint_ttl_seconds: float = 0.0) -> None:
        self._endpoints = CachedEndpoints(resolve, endpoint_ttl_seconds)
        self._timeout = timeout_seconds
        # No proxies: a health probe must reach the replica itself, whatever HTTP_PROXY says. No redirects either.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        """One probe of each replica; the report of the worst, naming it in ``detail``."""
        with traced("probe", kind=SpanKind.CLIENT, environment=environment, service=service, revision=revision) as span:
            report = capped(self._probe(environment, service, revision, path))
            span.set_attribute("health.status", report.status.value)
            return report

    def _probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        found = self._bases(environment, service, revision)
        if isinstance(found, HealthReport):
            return found
        bases, reused = found
        report = self._probe_bases(bases, path)
        if not reused or report.status is HealthStatus.HEALTHY:
            return report
        # The replicas may have moved since they were resolved: a failing check is judged on endpoints read now.
        self._endpoints.forget(environment, service, revision)
        found = self._bases(environment, service, revision)
        if isinstance(found, HealthReport):
            return found
        fresh, _ = found
        return report if sorted(fresh) == sorted(bases) else self._probe_bases(fresh, path)

    def _bases(self, environment: str, service: str, revision: str) -> tuple[list[str], bool] | HealthReport:
        """The replicas' base URLs and whether they were reused, or the report when there is nothing to probe."""
        what = f"revision {revision} of {service} in {environment}"
        try:
            bases, reused = self._endpoints.resolve(environment, service, revision)
        except NotFound as error:
            return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"{what} has no replicas to probe: {error}")
        if not bases:
            return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, f"{what} has no running replicas to probe")
        return bases, reused

    def _probe_bases(self, bases: list[str], path: str) -> HealthReport:
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
            status, body, headers = self._fetch(url)
        except (OSError, http.client.HTTPException, ValueError) as error:
            return self._failure(error)
        report = parse_health_response(status, body, headers.get("Content-Type"))
        if 300 <= status < 400:
            where = _excerpt(headers.get("Location") or "(no Location)")
            return replace(report, entries=(), detail=f"HTTP {status} redirect to {where} not followed")
        return report

    def _fetch(self, url: str) -> tuple[int, bytes, Message]:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json, text/plain", "User-Agent": "controlplane-health-probe"}
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                # One byte over the limit lets the parser say the body is too large.
                return response.status, response.read(MAX_BODY_BYTES + 1), response.headers
        except urllib.error.HTTPError as error:  # 3xx/4xx/5xx are still responses, and a 503 carries the report
            with error:
                body = error.read(MAX_BODY_BYTES + 1) if error.fp is not None else b""
                return error.code, body, error.headers if error.headers else http.client.HTTPMessage()

    def _failure(self, error: BaseException) -> HealthReport:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, TimeoutError):
            return report_for_probe_error(ProbeFailure.TIMEOUT, f"timed out after {self._timeout:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return report_for_probe_error(ProbeFailure.CONNECTION_REFUSED, "connection refused")
        return report_for_probe_error(ProbeFailure.CONNECTION_ERROR, _describe(reason))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx reaches the caller as an HTTPError (a response), never as the page it points to."""

    def redirect_request(self, *_: object) -> None:
        return None


def _excerpt(text: str) -> str:
    return repr(text[:200]) + ("…" if len(text) > 200 else "")


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
