"""A HookCaller fake: records every call and answers from a script per hook name (default 200).

It passes the HookCaller contract (``tests/contracts/hook_caller.py``) the HTTP caller passes: a 2xx takes one
attempt, no answer or a retryable status (408, 429, 5xx) takes every attempt, any other status one."""

from __future__ import annotations

import threading

from controlplane.domain.hooks import HookCall, HookOutcome
from controlplane.domain.notifications import WebhookAnswer


class ScriptedHooks:
    """``script(hook, *statuses)`` queues HTTP statuses (None: no answer) for a hook, one per call (each the
    answer to every attempt of that call); once used up, the last one repeats. Records every call."""

    def __init__(self) -> None:
        self.calls: list[HookCall] = []
        self._statuses: dict[str, list[int | None]] = {}
        self._lock = threading.Lock()

    def script(self, hook: str, *statuses: int | None) -> None:
        with self._lock:
            self._statuses[hook] = list(statuses)

    def call(self, call: HookCall) -> HookOutcome:
        with self._lock:
            self.calls.append(call)
            queued = self._statuses.get(call.hook, [])
            status = queued.pop(0) if len(queued) > 1 else queued[0] if queued else 200
        if status is None:
            return HookOutcome(None, call.retries + 1, "connection refused (scripted)")
        answer = WebhookAnswer(status)
        if answer.delivered:
            return HookOutcome(status, 1)
        attempts = call.retries + 1 if answer.retryable else 1
        return HookOutcome(status, attempts, f"HTTP {status} after {attempts} attempt(s) (scripted)")

    def called(self, hook: str) -> list[HookCall]:
        return [call for call in self.calls if call.hook == hook]
