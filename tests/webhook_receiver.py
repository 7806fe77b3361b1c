"""A webhook receiver on 127.0.0.1 for notification tests: records each POST by path, answers from a script."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """``script(path, 500, 200)`` answers the first POST to ``path`` with 500, every later one with 200 (the
    last status repeats); paths not scripted answer 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.answered: list[tuple[str, int]] = []
        self._statuses: dict[str, list[int]] = {}
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver._record(self.path, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_arguments: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, path: str, *statuses: int) -> None:
        with self._lock:
            self._statuses[path] = list(statuses)

    def posted_to(self, path: str) -> list[Any]:
        with self._lock:
            return [body for posted, body in self.posts if posted == path]

    def wait_for(self, path: str, count: int, timeout: float) -> list[Any]:
        """The bodies POSTed to ``path`` once there are ``count`` of them (or all there are after ``timeout``)."""
        with self._lock:
            self._lock.wait_for(lambda: len([p for p, _ in self.posts if p == path]) >= count, timeout)
        return self.posted_to(path)

    def _record(self, path: str, body: Any) -> int:
        with self._lock:
            queued = self._statuses.get(path, [200])
            status = queued.pop(0) if len(queued) > 1 else queued[0]
            self.posts.append((path, body))
            self.answered.append((path, status))
            self._lock.notify_all()
            return status


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    thread = threading.Thread(target=receiver._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver._server.shutdown()
        receiver._server.server_close()
