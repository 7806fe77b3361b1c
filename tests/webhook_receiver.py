"""A webhook receiver on 127.0.0.1 for notification and rollout-hook tests: records each POST by path (headers,
raw body, and whether its signature verified), answers from a script: a status, after a delay, with headers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from controlplane.domain.hooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass(frozen=True)
class Answer:
    """What the receiver answers: ``status``, after ``delay`` seconds, with ``headers`` (Retry-After, Location)."""

    status: int = 200
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One POST as received (``headers`` look up names in any case); ``verified`` is None when the receiver has no
    secret, else what ``verify`` said."""

    path: str
    headers: Message
    raw: bytes
    verified: bool | None

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


class WebhookReceiver:
    """``script(path, 500, 200)`` answers the first POST to ``path`` with 500, every later one with 200 (the
    last answer repeats); an ``Answer`` may stand for a status. Paths not scripted answer 200. With a ``secret``,
    each delivery records whether its signature verified (the receiver answers as scripted either way)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.answered: list[tuple[str, int]] = []
        self.deliveries: list[Delivery] = []
        self._secret = secret
        self._answers: dict[str, list[Answer]] = {}
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                answer = receiver._record(self.path, self.headers, raw)
                time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in {**answer.headers, "Content-Length": "0"}.items():
                        self.send_header(name, value)
                    self.end_headers()
                except OSError:
                    pass  # the caller gave up waiting (a timeout test): nobody reads the answer

            def log_message(self, *_arguments: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, path: str, *answers: int | Answer) -> None:
        with self._lock:
            self._answers[path] = [answer if isinstance(answer, Answer) else Answer(answer) for answer in answers]

    def posted_to(self, path: str) -> list[Any]:
        with self._lock:
            return [body for posted, body in self.posts if posted == path]

    def delivered_to(self, path: str) -> list[Delivery]:
        with self._lock:
            return [delivery for delivery in self.deliveries if delivery.path == path]

    def wait_for(self, path: str, count: int, timeout: float) -> list[Any]:
        """The bodies POSTed to ``path`` once there are ``count`` of them (or all there are after ``timeout``)."""
        with self._lock:
            self._lock.wait_for(lambda: len([p for p, _ in self.posts if p == path]) >= count, timeout)
        return self.posted_to(path)

    def _record(self, path: str, headers: Message, raw: bytes) -> Answer:
        verified = None
        if self._secret is not None:
            signed = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
            verified = verify(self._secret, *signed, raw, now=time.time())
        with self._lock:
            queued = self._answers.get(path, [Answer()])
            answer = queued.pop(0) if len(queued) > 1 else queued[0]
            self.posts.append((path, json.loads(raw)))
            self.deliveries.append(Delivery(path, headers, raw, verified))
            self.answered.append((path, answer.status))
            self._lock.notify_all()
            return answer


@contextmanager
def webhook_receiver(secret: bytes | None = None) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret)
    # A short poll interval: shutdown waits for the next poll, and tests start a receiver each.
    thread = threading.Thread(target=receiver._server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver._server.shutdown()
        receiver._server.server_close()
