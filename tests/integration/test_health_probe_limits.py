"""The HTTP health probe against a real local server: redirects are not followed, and what a report keeps
from a large body is capped so it fits the event log and the Durable payload limits."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.domain import health_cap
from controlplane.domain.health import MAX_BODY_BYTES, HealthReport, HealthStatus, ProbeFailure

Routes = dict[str, tuple[int, dict[str, str], bytes]]


@contextmanager
def serving(routes: Routes) -> Iterator[str]:
    """A server answering each path of ``routes`` with its (status, headers, body); its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = routes.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def probe(base: str, path: str = "/health") -> HealthReport:
    return HttpHealthProbe(lambda *_: [base]).probe("dev", "orders", "orders-2", path)


HEALTHY = json.dumps({"status": "Healthy", "entries": {"self": {"status": "Healthy"}}}).encode()


def test_a_redirect_to_a_healthy_page_is_unhealthy_and_not_followed() -> None:
    json_header = {"Content-Type": "application/json"}
    with serving(
        {"/health": (302, {"Location": "/elsewhere"}, b""), "/elsewhere": (200, json_header, HEALTHY)}
    ) as base:
        report = probe(base)
    assert report.status is HealthStatus.UNHEALTHY and report.failure is ProbeFailure.UNEXPECTED_STATUS
    assert report.http_status == 302 and "redirect to '/elsewhere' not followed" in (report.detail or "")


def test_a_large_healthy_report_is_judged_whole_and_stored_cut_to_fit() -> None:
    entries = {
        f"check-{index:04d}": {"status": "Healthy", "description": "d" * 2000, "data": {"blob": "x" * 5000}}
        for index in range(120)
    }
    entries["check-0119"]["status"] = "Degraded"  # the one failing entry is kept whatever its position
    body = json.dumps({"status": "Degraded", "entries": entries}).encode()
    assert 450 * 1024 < len(body) <= MAX_BODY_BYTES  # accepted by the probe: the size the finding used
    with serving({"/health": (200, {"Content-Type": "application/json"}, body)}) as base:
        report = probe(base)
    stored = json.dumps(report.to_dict())
    assert report.status is HealthStatus.DEGRADED and report.failure is None
    assert len(stored) <= health_cap.REPORT_CHARS + 2048
    assert "check-0119" in [entry.name for entry in report.entries]
    assert "report cut to fit: " in (report.detail or "") and "of 120 entries kept" in (report.detail or "")
    assert all(len(entry.description or "") <= health_cap.TEXT_CHARS for entry in report.entries)
    assert report.entries[0].data == {"truncated": len(json.dumps({"blob": "x" * 5000}))}
    assert HealthReport.from_dict(json.loads(stored)) == report  # still a report the gate and the log read


def test_a_report_within_the_limits_is_kept_whole() -> None:
    with serving({"/health": (200, {"Content-Type": "application/json"}, HEALTHY)}) as base:
        report = probe(base)
    assert report.status is HealthStatus.HEALTHY and [entry.name for entry in report.entries] == ["self"]
    assert "cut" not in (report.detail or "")
