"""Group commit of decided episodes: each instance's history is written in order, one row at a time,
with every episode decided while the previous write was in flight going into the next row.

The engine decides an episode and dispatches its work right away (speculatively); the episode becomes
durable when its row is written. A sequential orchestration therefore decides step *n+1* while step *n*
is still being written, and a step costs one insert only when the writer is idle.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from funchost.durable.live import Commit, Live
from funchost.durable.store import DurableStore

log = logging.getLogger("funchost.durable")


class HistoryWriter:
    def __init__(
        self,
        store: DurableStore,
        on_durable: Callable[[Commit], None],
        on_failure: Callable[[Live, Exception], None],
        workers: int = 4,
    ) -> None:
        self._store = store
        self._on_durable = on_durable
        self._on_failure = on_failure
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="durable-writer")
        self._lock = threading.Lock()

    def submit(self, commit: Commit) -> None:
        """Queue a decided episode; start the instance's writer if it is idle."""
        live = commit.live
        with self._lock:
            live.pending.append(commit)
            if live.writing:
                return
            live.writing = True
            live.idle.clear()
        self._pool.submit(self._write_loop, live)

    def wait_idle(self, live: Live, timeout: float | None = None) -> bool:
        """Block until nothing of ``live`` is being written."""
        return live.idle.wait(timeout)

    def stop(self) -> None:
        self._pool.shutdown(wait=True)

    def _write_loop(self, live: Live) -> None:
        while True:
            with self._lock:
                batch, live.pending = live.pending, []
                if not batch or live.broken:
                    live.pending = []
                    live.writing = False
                    live.idle.set()
                    return
            try:
                self._write(live, batch)
            except Exception as error:
                with self._lock:
                    live.broken = True
                    live.pending = []
                    live.writing = False
                    live.idle.set()
                self._on_failure(live, error)
                return
            for commit in batch:
                self._on_durable(commit)

    def _write(self, live: Live, batch: list[Commit]) -> None:
        instance_id = live.record.instance_id
        start = 0
        while start < len(batch):
            generation = batch[start].generation
            end = start
            while end < len(batch) and batch[end].generation == generation:
                end += 1
            if generation != live.written_generation:
                live.written_generation, live.written_rows = generation, 0
            written, token = self._store.append_rows(
                instance_id, generation, live.written_rows, [c.events for c in batch[start:end]], live.written_token
            )
            live.written_rows += written
            live.written_token = token
            start = end
