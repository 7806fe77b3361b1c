"""Write-behind of instance rows: the newest status of each instance, coalesced, off the episode path.

Committed history is the source of truth (a row lost in a crash is repaired from it on load), so the
row may lag; readers in this process see the pending version first.
"""

from __future__ import annotations

import logging
import threading

from funchost.durable.store import DurableStore, InstanceRecord

log = logging.getLogger("funchost.durable")


class StatusWriter:
    def __init__(self, store: DurableStore, delay_seconds: float = 0.05) -> None:
        self._store = store
        self._delay = delay_seconds
        self._pending: dict[str, InstanceRecord] = {}
        self._changed = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="durable-status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        self._thread.join(timeout=10)
        self._write_all()

    def put(self, record: InstanceRecord, urgent: bool = False) -> None:
        with self._changed:
            self._pending[record.instance_id] = record
            self._idle.clear()
            if urgent:
                self._changed.notify()

    def pending(self, instance_id: str) -> InstanceRecord | None:
        with self._changed:
            return self._pending.get(instance_id)

    def flush(self, timeout: float = 10.0) -> None:
        """Block until every pending row is written."""
        with self._changed:
            self._changed.notify()
        self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                if not self._pending and not self._stopping:
                    self._changed.wait(timeout=self._delay)
                if self._stopping:
                    return
            self._write_all()

    def _write_all(self) -> None:
        with self._changed:
            batch = list(self._pending.values())
        for record in batch:
            try:
                self._store.put_instance(record)
            except Exception:
                log.exception("instance %s: status write failed; retrying", record.instance_id)
                continue
            with self._changed:
                if self._pending.get(record.instance_id) is record:
                    del self._pending[record.instance_id]
        with self._changed:
            if not self._pending:
                self._idle.set()
