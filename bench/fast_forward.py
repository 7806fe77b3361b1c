"""A clock for the durable engine that skips idle time, as a discrete-event simulation does.

Whenever the only thing any orchestration waits for is a durable timer (no activity or sub-orchestration
outstanding, no fired timer that an episode has not taken in yet), reading the clock moves it on to the earliest
timer's time, so that timer fires at once instead of after its wait. Everything else runs in real time: an
orchestration sees the time its activities and replays took, and its waits as if they had passed, so what
depends on time (an analysis's measurement schedule, a progress deadline) decides as it would have. What is
outstanding it learns from the engine's episode reports: it is an engine observer as well as its clock.

A timer that no episode will take in (its instance ended, or continued as new, while the timer ran) is
forgotten with its instance's generation.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from funchost.durable.episodes import EpisodeReport
from funchost.durable.history import COMPLETIONS, EventType, kind_of, parse_timestamp

Key = tuple[str, int, int]  # (instance id, generation, task id)
_OUTSTANDING = frozenset({EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_CREATED})
_ENDS = frozenset({EventType.EXECUTION_COMPLETED, EventType.EXECUTION_TERMINATED, EventType.CONTINUE_AS_NEW})


class FastForward:
    """The engine's clock (call it) and an engine observer (call it with an EpisodeReport); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ahead = timedelta(0)
        self._tasks: set[Key] = set()
        self._timers: dict[Key, datetime] = {}

    def now(self) -> datetime:
        with self._lock:
            now = datetime.now(UTC) + self._ahead
            if not self._tasks and self._timers:
                earliest = min(self._timers.values())
                if earliest > now:
                    self._ahead += earliest - now
                    now = earliest
            return now

    def observe(self, report: EpisodeReport) -> None:
        instance, generation = report.instance.instance_id, report.generation
        with self._lock:
            for happened in report.events:
                kind = kind_of(happened)
                if kind in COMPLETIONS:
                    key = (instance, generation, happened[COMPLETIONS[kind]])
                    self._tasks.discard(key)
                    self._timers.pop(key, None)
                elif kind in _OUTSTANDING:
                    self._tasks.add((instance, generation, happened["EventId"]))
                elif kind is EventType.TIMER_CREATED:
                    self._timers[(instance, generation, happened["EventId"])] = parse_timestamp(happened["FireAt"])
            if any(kind_of(happened) in _ENDS for happened in report.events):
                self._tasks = {key for key in self._tasks if key[:2] != (instance, generation)}
                self._timers = {key: at for key, at in self._timers.items() if key[:2] != (instance, generation)}
