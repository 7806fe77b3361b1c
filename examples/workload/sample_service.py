"""The sample workload that local compute runs: one process per replica, configured only by environment.

Standard library only, so any Python 3.11 runs it: ``PORT=8080 python examples/workload/sample_service.py``.

| variable | meaning | default |
|---|---|---|
| ``PORT`` | port on 127.0.0.1 (0 picks a free one; the log names it) | ``8080`` |
| ``SERVICE_NAME`` / ``SERVICE_VERSION`` | service name, and version (the image tag) | ``sample`` / ``unknown`` |
| ``REVISION`` / ``REPLICA`` | revision name and replica index, reported by ``GET /`` | ``""`` / ``0`` |
| ``SAMPLE_HEALTH_MODE`` | healthy, degraded, unhealthy, unhealthy-after, crash-after | ``healthy`` |
| ``SAMPLE_UNHEALTHY_AFTER_SECONDS`` | unhealthy-after: Healthy until then, Unhealthy from then on | ``10`` |
| ``SAMPLE_CRASH_AFTER_SECONDS`` | crash-after: the process exits with code 1 then | ``10`` |
| ``SAMPLE_DEGRADE_AFTER_SECONDS`` | any mode: at least Degraded from then on (a late failure) | never |
| ``SAMPLE_LATENCY_MS`` | delay added to every request | ``0`` |
| ``SAMPLE_ERROR_PERCENT`` | percent (0-100) of application requests answered 500 while health stays as set | ``0`` |
| ``SAMPLE_QUEUE_LENGTH`` | queue length reported by ``/metrics`` | ``0`` |

Times count from process start. An invalid value stops the process with exit code 2 and a message naming
the variable, as a misconfigured container would crash-loop.

Endpoints:
- ``GET /health``: the ASP.NET Core HealthChecks UI JSON report; 200 for Healthy/Degraded, 503 for Unhealthy.
- ``GET /`` (and any other application path): ``{service, version, revision, replica}``.
- ``GET /metrics``: ``{requests_total, errors_total, rps_1m, queue_length, cpu_percent}``. Only application
  traffic counts as requests: health probes, metric scrapes and admin calls would otherwise inflate the rps
  scaling reads.
- ``POST /admin/health?mode=<mode>[&after=<seconds>]``: switch the mode now; "after" times then count
  from the switch, and the switch cancels ``SAMPLE_DEGRADE_AFTER_SECONDS`` (the operator's word wins).
- ``POST /admin/queue?length=<n>``: change the reported queue length (drives queue-based scaling demos).

Failures are spread evenly, not drawn at random: of every 100 application requests exactly
``SAMPLE_ERROR_PERCENT`` fail (request n fails when ``n * p // 100`` steps up), so a test or a demo sees the
same rate every run. Health probes never fail this way: the replica looks Healthy while its requests fail.

One log line per request goes to stderr. SIGTERM (or SIGINT) stops accepting, lets in-flight requests
finish and exits 0.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MODES = ("healthy", "degraded", "unhealthy", "unhealthy-after", "crash-after")
DEFAULT_AFTER_SECONDS = 10.0
RATE_WINDOW_SECONDS = 60.0
_OPERATIONAL_PATHS = ("/health", "/metrics", "/admin/")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable and the fix."""


def _seconds(name: str, raw: str | None, default: float | None) -> float | None:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a number of seconds >= 0 (got {raw!r})")
    return value


def _count(name: str, raw: str | None) -> int:
    if raw is None or raw.strip() == "":
        return 0
    if not raw.strip().isdigit():
        raise ConfigError(f"{name} must be a whole number >= 0 (got {raw!r})")
    return int(raw)


def _mode(name: str, raw: str | None) -> str:
    mode = (raw or "healthy").strip().lower()
    if mode not in MODES:
        raise ConfigError(f"{name} must be one of {', '.join(MODES)} (got {raw!r})")
    return mode


class Workload:
    """The replica's identity and simulated behaviour; every method is safe to call from any thread."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.identity = {
            "service": environ.get("SERVICE_NAME", "sample"),
            "version": environ.get("SERVICE_VERSION", "unknown"),
            "revision": environ.get("REVISION", ""),
            "replica": environ.get("REPLICA", "0"),
        }
        self.port = _count("PORT", environ.get("PORT", "8080"))
        if self.port > 65535:
            raise ConfigError(f"PORT must be a port number 0-65535 (got {self.port})")
        self.latency = _count("SAMPLE_LATENCY_MS", environ.get("SAMPLE_LATENCY_MS")) / 1000
        self.error_percent = _count("SAMPLE_ERROR_PERCENT", environ.get("SAMPLE_ERROR_PERCENT"))
        if self.error_percent > 100:
            raise ConfigError(f"SAMPLE_ERROR_PERCENT must be a percentage 0-100 (got {self.error_percent})")
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._crash_timer: threading.Timer | None = None
        self._queue_length = _count("SAMPLE_QUEUE_LENGTH", environ.get("SAMPLE_QUEUE_LENGTH"))
        self._degrade_at = _seconds("SAMPLE_DEGRADE_AFTER_SECONDS", environ.get("SAMPLE_DEGRADE_AFTER_SECONDS"), None)
        self._unhealthy_after = _seconds(
            "SAMPLE_UNHEALTHY_AFTER_SECONDS", environ.get("SAMPLE_UNHEALTHY_AFTER_SECONDS"), DEFAULT_AFTER_SECONDS
        )
        self._crash_after = _seconds(
            "SAMPLE_CRASH_AFTER_SECONDS", environ.get("SAMPLE_CRASH_AFTER_SECONDS"), DEFAULT_AFTER_SECONDS
        )
        self._mode = _mode("SAMPLE_HEALTH_MODE", environ.get("SAMPLE_HEALTH_MODE"))
        self._mode_since = self.started
        self._requests: collections.deque[float] = collections.deque()
        self._requests_total = 0
        self._errors_total = 0

    def start(self) -> None:
        """Arm the crash timer of crash-after mode."""
        with self._lock:
            self._arm_crash()

    def switch(self, mode: str, after: float | None) -> dict[str, Any]:
        """Change the mode now (see the module doc); returns the new state."""
        with self._lock:
            self._mode, self._mode_since, self._degrade_at = mode, time.monotonic(), None
            if after is not None:
                self._unhealthy_after = self._crash_after = after
            self._arm_crash()
            return {
                "mode": self._mode,
                "unhealthyAfterSeconds": self._unhealthy_after,
                "crashAfterSeconds": self._crash_after,
            }

    def set_queue_length(self, length: int) -> None:
        with self._lock:
            self._queue_length = length

    def count_request(self) -> bool:
        """Count an application request; whether it is one of the ``SAMPLE_ERROR_PERCENT`` that fail."""
        now = time.monotonic()
        with self._lock:
            self._requests_total += 1
            self._requests.append(now)
            self._trim(now)
            number, percent = self._requests_total, self.error_percent
            fails = number * percent // 100 > (number - 1) * percent // 100
            self._errors_total += fails
            return fails

    def health(self) -> tuple[int, dict[str, Any]]:
        """The HTTP status and HealthChecks UI JSON body of ``GET /health``."""
        began = time.perf_counter()
        now = time.monotonic()
        with self._lock:
            mode, in_mode = self._mode, now - self._mode_since
            uptime = now - self.started
            status = {"healthy": "Healthy", "degraded": "Degraded", "unhealthy": "Unhealthy"}.get(mode, "Healthy")
            if mode == "unhealthy-after" and in_mode >= self._unhealthy_after:
                status = "Unhealthy"
            degraded_late = self._degrade_at is not None and uptime >= self._degrade_at
            if degraded_late and status == "Healthy":
                status = "Degraded"
        dependency = _dependency_entry(status, mode, degraded_late, round(uptime, 3), time.perf_counter() - began)
        self_entry = _entry("Healthy", "The process is alive.", None, {}, ["live"], 0.0)
        body = {
            "status": status,
            "totalDuration": _timespan(time.perf_counter() - began),
            "entries": {"self": self_entry, "dependency": dependency},
        }
        return (503 if status == "Unhealthy" else 200), body

    def metrics(self) -> dict[str, Any]:
        now = time.monotonic()
        times = os.times()
        with self._lock:
            self._trim(now)
            # A young process divides by its age, so the rate is right before a full window has passed.
            window = max(1.0, min(RATE_WINDOW_SECONDS, now - self.started))
            return {
                "requests_total": self._requests_total,
                "errors_total": self._errors_total,
                "rps_1m": round(len(self._requests) / window, 3),
                "queue_length": self._queue_length,
                "cpu_percent": round(100 * (times.user + times.system) / max(now - self.started, 1e-3), 2),
            }

    def _trim(self, now: float) -> None:
        while self._requests and self._requests[0] <= now - RATE_WINDOW_SECONDS:
            self._requests.popleft()

    def _arm_crash(self) -> None:
        if self._crash_timer is not None:
            self._crash_timer.cancel()
            self._crash_timer = None
        if self._mode == "crash-after":
            delay = max(0.0, self._mode_since + (self._crash_after or 0.0) - time.monotonic())
            self._crash_timer = threading.Timer(delay, self._crash)
            self._crash_timer.daemon = True
            self._crash_timer.start()

    def log(self, message: str) -> None:
        """One line on stderr: time, service@version, revision/replica, message."""
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        who = f"{self.identity['service']}@{self.identity['version']}"
        sys.stderr.write(f"{stamp} {who} {self.identity['revision'] or '-'}/{self.identity['replica']} {message}\n")

    def _crash(self) -> None:
        self.log(f"crashing as configured (crash-after {self._crash_after:g} s)")
        # A crash, not a shutdown: no cleanup, no draining, exit code 1 as an unhandled exception gives.
        os._exit(1)


def _dependency_entry(status: str, mode: str, late: bool, uptime: float, elapsed: float) -> dict[str, Any]:
    if status == "Unhealthy":
        description = f"simulated dependency is unavailable (SAMPLE_HEALTH_MODE={mode})"
        exception = "System.TimeoutException: the simulated dependency did not answer"
    elif status == "Degraded":
        reason = "SAMPLE_DEGRADE_AFTER_SECONDS passed" if late and mode != "degraded" else f"SAMPLE_HEALTH_MODE={mode}"
        description, exception = f"simulated dependency is slow ({reason})", None
    else:
        description, exception = "simulated dependency answers", None
    return _entry(status, description, exception, {"mode": mode, "uptimeSeconds": uptime}, ["ready"], elapsed)


def _entry(
    status: str, description: str, exception: str | None, data: dict[str, Any], tags: list[str], seconds: float
) -> dict[str, Any]:
    return {
        "data": data,
        "description": description,
        "duration": _timespan(seconds),
        "exception": exception,
        "status": status,
        "tags": tags,
    }


def _timespan(seconds: float) -> str:
    """.NET TimeSpan "c" format with 7 tick digits, e.g. ``00:00:00.0001234``."""
    ticks = max(0, round(seconds * 10_000_000))
    whole, fraction = divmod(ticks, 10_000_000)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{fraction:07d}"


class Handler(BaseHTTPRequestHandler):
    """Routes the endpoints of the module doc; ``server.workload`` holds the state."""

    server: Server
    server_version = "SampleService/1.0"
    timeout = 5  # a client that connects and says nothing must not hold up shutdown

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        began = time.perf_counter()
        workload = self.server.workload
        url = urlsplit(self.path)
        fails = not url.path.startswith(_OPERATIONAL_PATHS) and workload.count_request()
        if workload.latency:
            time.sleep(workload.latency)
        if fails:
            status, body = 500, {"error": f"simulated failure (SAMPLE_ERROR_PERCENT={workload.error_percent})"}
        else:
            status, body = self._route(method, url.path, parse_qs(url.query), workload)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        elapsed_ms = 1000 * (time.perf_counter() - began)
        workload.log(f"{self.client_address[0]} {method} {self.path} {status} {elapsed_ms:.1f}ms")

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], workload: Workload
    ) -> tuple[int, dict[str, Any]]:
        routes = {
            ("GET", "/"): lambda: (200, workload.identity),
            ("GET", "/health"): workload.health,
            ("GET", "/metrics"): lambda: (200, workload.metrics()),
            ("POST", "/admin/health"): lambda: self._switch(query, workload),
            ("POST", "/admin/queue"): lambda: self._queue(query, workload),
        }
        route = routes.get((method, path.rstrip("/") or "/"))
        if route is not None:
            try:
                return route()
            except ConfigError as error:
                return 400, {"error": str(error)}
        if any(path == known for _, known in routes):
            return 405, {"error": f"{method} is not allowed on {path}"}
        return (404, {"error": f"no route {path}"}) if path.startswith(_OPERATIONAL_PATHS) else (200, workload.identity)

    @staticmethod
    def _switch(query: dict[str, list[str]], workload: Workload) -> tuple[int, dict[str, Any]]:
        raw = query.get("mode", [""])[0]
        if not raw:
            raise ConfigError(f"mode is required: one of {', '.join(MODES)}")
        mode = _mode("mode", raw)
        state = workload.switch(mode, _seconds("after", query.get("after", [""])[0], None))
        workload.log(f"health mode switched to {mode}")
        return 200, state

    @staticmethod
    def _queue(query: dict[str, list[str]], workload: Workload) -> tuple[int, dict[str, Any]]:
        raw = query.get("length", [""])[0]
        if not raw:
            raise ConfigError("length is required: a whole number >= 0")
        workload.set_queue_length(_count("length", raw))
        return 200, {"queue_length": int(raw)}

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: ``_serve`` writes one line per request with its duration instead."""

    def log_message(self, format: str, *args: Any) -> None:
        self.server.workload.log(f"{self.client_address[0]} {format % args}")


class Server(ThreadingHTTPServer):
    # Handler threads are joined on close, so SIGTERM lets in-flight requests finish.
    daemon_threads = False
    block_on_close = True

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        super().__init__(("127.0.0.1", workload.port), Handler)


def main(environ: Mapping[str, str]) -> int:
    try:
        workload = Workload(environ)
    except ConfigError as error:
        sys.stderr.write(f"sample_service: {error}\n")
        return 2
    server = Server(workload)

    def stop(signum: int, _frame: object) -> None:
        workload.log(f"{signal.Signals(signum).name} received; shutting down")
        # shutdown() waits for serve_forever(), which this (main) thread is running: call it from another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workload.start()
    workload.log(f"listening on http://127.0.0.1:{server.server_address[1]}")
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    workload.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
