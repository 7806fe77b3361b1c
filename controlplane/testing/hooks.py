"""A HookCaller fake: records every call and answers from a script per hook name (default 200)."""

from __future__ import annotations

import threading

from controlplane.domain.hooks import HookCall, HookOutcome


class ScriptedHooks:
    """``script(hook, *statuses)`` queues HTTP statuses (None: no answer) for a hook; once used up, the last
    one repeats. Records every call."""

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
        ok = 200 <= status < 300
        return HookOutcome(status, 1 if ok else call.retries + 1, None if ok else f"HTTP {status}")

    def called(self, hook: str) -> list[HookCall]:
        return [call for call in self.calls if call.hook == hook]
