"""A WebhookPoster fake: records every POST and answers from a script per URL (default 200)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from controlplane.domain.notifications import WebhookAnswer


class ScriptedWebhooks:
    """``script(url, answers...)`` queues answers for a URL; once they are used up, the last one repeats."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self._answers: dict[str, list[WebhookAnswer]] = {}
        self._lock = threading.Lock()

    def script(self, url: str, *answers: WebhookAnswer) -> None:
        with self._lock:
            self._answers[url] = list(answers)

    def post(self, url: str, body: Mapping[str, Any]) -> WebhookAnswer:
        with self._lock:
            self.posts.append((url, dict(body)))
            queued = self._answers.get(url, [])
            return queued.pop(0) if len(queued) > 1 else queued[0] if queued else WebhookAnswer(200, "OK")

    def posted_to(self, url: str) -> list[dict[str, Any]]:
        return [body for posted, body in self.posts if posted == url]
