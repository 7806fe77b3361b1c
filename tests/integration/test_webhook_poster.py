"""The urllib WebhookPoster over real sockets on 127.0.0.1: answers become data, the URL never shows."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from controlplane.adapters.http.webhook import HttpWebhookPoster

SECRET_PATH = "/hooks/secret-token"


class Handler(BaseHTTPRequestHandler):
    received: list[tuple[str, str, Any]] = []
    hold = threading.Event()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.received.append((self.path, self.headers["Content-Type"], body))
        if self.path.endswith("/slow"):
            Handler.hold.wait(10)
        status, headers = {
            "/ok": (200, {}),
            "/throttled": (429, {"Retry-After": "120"}),
            "/moved": (307, {"Location": "/ok"}),
        }.get(self.path.removeprefix(SECRET_PATH), (500, {}))
        self.send_response(status)
        for name, value in {**headers, "Content-Length": "0"}.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *_arguments: Any) -> None:
        pass


@pytest.fixture
def base() -> Iterator[str]:
    Handler.received = []
    Handler.hold = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}"
    Handler.hold.set()
    server.shutdown()
    server.server_close()


def test_a_2xx_is_delivered_with_the_json_body(base: str) -> None:
    answer = HttpWebhookPoster().post(f"{base}/ok", {"text": "hello"})
    assert answer.delivered and answer.status == 200
    assert Handler.received == [(f"{SECRET_PATH}/ok", "application/json; charset=utf-8", {"text": "hello"})]


def test_an_error_status_is_an_answer_with_retry_after_capped_at_a_minute(base: str) -> None:
    poster = HttpWebhookPoster()
    failed = poster.post(f"{base}/fail", {})
    assert (failed.status, failed.reason, failed.retryable) == (500, "Internal Server Error", True)
    throttled = poster.post(f"{base}/throttled", {})
    assert (throttled.status, throttled.retry_after) == (429, 60.0)


def test_a_redirect_is_not_followed(base: str) -> None:
    answer = HttpWebhookPoster().post(f"{base}/moved", {})
    assert answer.status == 307 and not answer.delivered and not answer.retryable
    assert [path for path, _, _ in Handler.received] == [f"{SECRET_PATH}/moved"]


def test_a_refused_connection_is_no_answer_and_names_no_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: the connection is refused
        answer = HttpWebhookPoster().post(f"http://127.0.0.1:{port}{SECRET_PATH}", {})
    assert answer.status is None and answer.retryable
    assert "secret-token" not in answer.describe() and str(port) not in answer.describe()


@pytest.mark.slow
def test_a_receiver_that_does_not_answer_in_time_is_no_answer(base: str) -> None:
    answer = HttpWebhookPoster(timeout_seconds=0.2).post(f"{base}/slow", {})
    assert answer.status is None and "timed out" in answer.reason and answer.retryable
