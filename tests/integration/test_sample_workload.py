"""The sample workload as local compute runs it: a real process per replica, configured by environment."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controlplane.domain.health import HealthStatus, parse_health_response

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "workload" / "sample_service.py"
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str | None
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class WorkloadProcess:
    """One running replica of the sample workload and where it logs."""

    process: subprocess.Popen[bytes]
    base: str
    log_path: Path
    started: float

    def call(self, method: str, path: str, timeout: float = 5.0) -> Reply:
        request = urllib.request.Request(self.base + path, method=method, data=b"" if method == "POST" else None)
        began = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body, status, content_type = response.read(), response.status, response.headers["Content-Type"]
        except urllib.error.HTTPError as error:
            body, status, content_type = error.read(), error.code, error.headers["Content-Type"]
        return Reply(status, body, content_type, time.monotonic() - began)

    def health(self) -> HealthStatus:
        reply = self.call("GET", "/health")
        report = parse_health_response(reply.status, reply.body, reply.content_type)
        assert report.failure is None, report.summary()
        return report.status

    def log(self) -> str:
        return self.log_path.read_text()


def _wait_until_listening(process: subprocess.Popen[bytes], log_path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _LISTENING.search(log_path.read_text())
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise AssertionError(f"workload exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.02)
    raise AssertionError(f"workload did not listen within {timeout} s:\n{log_path.read_text()}")


@contextmanager
def running_workload(log_dir: Path, **settings: str) -> Iterator[WorkloadProcess]:
    """Start the workload on a free port (PORT=0) with ``settings`` as its environment; stop it afterwards."""
    log_path = log_dir / f"workload-{time.monotonic_ns()}.log"
    environment = {"PATH": os.environ.get("PATH", ""), "PORT": "0", **settings}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, str(SCRIPT)], env=environment, stdout=log, stderr=log)
    started = time.monotonic()
    try:
        yield WorkloadProcess(process, _wait_until_listening(process, log_path), log_path, started)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(condition: Any, timeout: float, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def test_reports_its_identity_and_a_healthy_ui_json_report(tmp_path: Path) -> None:
    identity = {"SERVICE_NAME": "orders", "SERVICE_VERSION": "2.0.0", "REVISION": "orders-2", "REPLICA": "1"}
    with running_workload(tmp_path, **identity) as workload:
        assert workload.call("GET", "/").json() == {
            "service": "orders",
            "version": "2.0.0",
            "revision": "orders-2",
            "replica": "1",
        }
        reply = workload.call("GET", "/health")
        report = parse_health_response(reply.status, reply.body, reply.content_type)
    assert (reply.status, report.status, report.failure) == (200, HealthStatus.HEALTHY, None)
    assert reply.content_type.startswith("application/json")
    assert [entry.name for entry in report.entries] == ["self", "dependency"]
    assert report.duration_ms is not None and all(entry.duration_ms is not None for entry in report.entries)
    assert set(reply.json()["entries"]["dependency"]) == {
        "data",
        "description",
        "duration",
        "exception",
        "status",
        "tags",
    }


@pytest.mark.parametrize(
    ("mode", "http_status", "status"),
    [("degraded", 200, HealthStatus.DEGRADED), ("unhealthy", 503, HealthStatus.UNHEALTHY)],
)
def test_a_degraded_or_unhealthy_mode_answers_as_asp_net_core_does(
    tmp_path: Path, mode: str, http_status: int, status: HealthStatus
) -> None:
    with running_workload(tmp_path, SAMPLE_HEALTH_MODE=mode) as workload:
        reply = workload.call("GET", "/health")
    report = parse_health_response(reply.status, reply.body, reply.content_type)
    assert (reply.status, report.status, report.failure, report.detail) == (http_status, status, None, None)
    assert [entry.name for entry in report.failing_entries] == ["dependency"]
    assert mode in (report.failing_entries[0].description or "")


def test_unhealthy_after_turns_unhealthy_once_the_seconds_have_passed(tmp_path: Path) -> None:
    settings = {"SAMPLE_HEALTH_MODE": "unhealthy-after", "SAMPLE_UNHEALTHY_AFTER_SECONDS": "1"}
    with running_workload(tmp_path, **settings) as workload:
        assert workload.health() is HealthStatus.HEALTHY
        assert _wait_for(lambda: workload.health() is HealthStatus.UNHEALTHY, timeout=5)
        assert time.monotonic() - workload.started >= 1.0
        assert workload.call("GET", "/health").status == 503
        assert workload.process.poll() is None


def test_degrade_after_turns_a_healthy_replica_degraded_later(tmp_path: Path) -> None:
    with running_workload(tmp_path, SAMPLE_DEGRADE_AFTER_SECONDS="1") as workload:
        assert workload.health() is HealthStatus.HEALTHY
        assert _wait_for(lambda: workload.health() is HealthStatus.DEGRADED, timeout=5)
        assert time.monotonic() - workload.started >= 1.0
        assert workload.call("GET", "/health").status == 200


def test_crash_after_exits_with_code_1(tmp_path: Path) -> None:
    settings = {"SAMPLE_HEALTH_MODE": "crash-after", "SAMPLE_CRASH_AFTER_SECONDS": "1"}
    with running_workload(tmp_path, **settings) as workload:
        assert workload.health() is HealthStatus.HEALTHY
        assert workload.process.wait(timeout=5) == 1
        assert time.monotonic() - workload.started >= 1.0
        assert "crashing as configured" in workload.log()


def test_latency_is_added_to_every_request(tmp_path: Path) -> None:
    with running_workload(tmp_path, SAMPLE_LATENCY_MS="200") as workload:
        replies = [workload.call("GET", path) for path in ("/", "/health", "/metrics")]
    assert all(reply.seconds >= 0.2 for reply in replies), [reply.seconds for reply in replies]


def test_metrics_count_application_requests_but_not_probes_or_scrapes(tmp_path: Path) -> None:
    with running_workload(tmp_path, SAMPLE_QUEUE_LENGTH="7") as workload:
        for path in ("/", "/orders/1", "/", "/health", "/health"):
            workload.call("GET", path)
        first = workload.call("GET", "/metrics").json()
        second = workload.call("GET", "/metrics").json()
        workload.call("POST", "/admin/queue?length=12")
        third = workload.call("GET", "/metrics").json()
    assert set(first) == {"requests_total", "errors_total", "rps_1m", "queue_length", "cpu_percent"}
    assert first["requests_total"] == second["requests_total"] == 3
    assert first["rps_1m"] > 0
    assert (first["queue_length"], third["queue_length"]) == (7, 12)
    assert first["cpu_percent"] >= 0


def test_an_error_percent_fails_exactly_that_share_of_requests_while_health_stays_healthy(tmp_path: Path) -> None:
    """A canary Healthy by its checks while a fifth of its requests fail: what only metric analysis catches."""
    with running_workload(tmp_path, SAMPLE_ERROR_PERCENT="20") as workload:
        statuses = [workload.call("GET", "/orders").status for _ in range(50)]
        assert workload.health() is HealthStatus.HEALTHY
        metrics = workload.call("GET", "/metrics").json()
    assert statuses.count(500) == 10 and statuses.count(200) == 40
    assert statuses[:5] == [200, 200, 200, 200, 500]  # spread evenly: one in every five
    assert (metrics["requests_total"], metrics["errors_total"]) == (50, 10)


def test_the_admin_endpoint_switches_the_health_mode_at_runtime(tmp_path: Path) -> None:
    with running_workload(tmp_path) as workload:
        assert workload.health() is HealthStatus.HEALTHY
        assert workload.call("POST", "/admin/health?mode=unhealthy").json()["mode"] == "unhealthy"
        assert workload.health() is HealthStatus.UNHEALTHY
        workload.call("POST", "/admin/health?mode=degraded")
        assert workload.health() is HealthStatus.DEGRADED
        workload.call("POST", "/admin/health?mode=healthy")
        assert workload.health() is HealthStatus.HEALTHY
        workload.call("POST", "/admin/health?mode=unhealthy-after&after=0.3")
        assert _wait_for(lambda: workload.health() is HealthStatus.UNHEALTHY, timeout=3)
        bad = workload.call("POST", "/admin/health?mode=sideways")
        assert bad.status == 400 and "sideways" in bad.json()["error"] and "healthy" in bad.json()["error"]
        assert workload.call("GET", "/admin/health").status == 405


def test_logs_one_line_per_request_to_stderr(tmp_path: Path) -> None:
    identity = {"SERVICE_NAME": "payments", "SERVICE_VERSION": "1.0.0", "REVISION": "payments-1", "REPLICA": "0"}
    with running_workload(tmp_path, **identity) as workload:
        for path in ("/", "/health", "/metrics"):
            workload.call("GET", path)
        assert _wait_for(lambda: len(re.findall(r" GET /\S* 200 ", workload.log())) == 3, timeout=2)
        assert "payments@1.0.0 payments-1/0" in workload.log()


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(tmp_path: Path) -> None:
    with running_workload(tmp_path, SAMPLE_LATENCY_MS="300") as workload, ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(workload.call, "GET", "/")
        time.sleep(0.1)
        workload.process.send_signal(signal.SIGTERM)
        assert in_flight.result(timeout=5).status == 200
        assert workload.process.wait(timeout=5) == 0
        assert "stopped" in workload.log()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SAMPLE_HEALTH_MODE", "sideways"),
        ("SAMPLE_UNHEALTHY_AFTER_SECONDS", "soon"),
        ("SAMPLE_LATENCY_MS", "-5"),
        ("SAMPLE_ERROR_PERCENT", "101"),
        ("PORT", "99999"),
    ],
)
def test_an_invalid_setting_exits_2_naming_the_variable(variable: str, value: str) -> None:
    environment = {"PATH": os.environ.get("PATH", ""), "PORT": "0", variable: value}
    result = subprocess.run([sys.executable, str(SCRIPT)], env=environment, capture_output=True, timeout=10)
    assert result.returncode == 2
    assert variable in result.stderr.decode()
