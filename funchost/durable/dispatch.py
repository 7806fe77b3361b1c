"""Carrying out the work episodes ask for: activities on a bounded pool, durable timers on one thread,
sub-orchestrations started as child instances, and results sent back as inbound events.

Activities hold one of ``max_activities`` slots (``maxConcurrentActivityFunctions``) while they run, and run
on the Python worker's thread pool, as on Azure: the extension's throttle and the worker's pool both apply."""

from __future__ import annotations

import heapq
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from funchost.durable.activities import refused_output, run_activity
from funchost.durable.backend_limits import AZURE_STORAGE_LIMITS, BackendLimits
from funchost.durable.history import (
    Event,
    EventType,
    RuntimeStatus,
    event,
    execution_started,
    kind_of,
    parse_timestamp,
    timestamp,
)
from funchost.durable.store import DurableStore, InstanceRecord, Message
from funchost.errors import NotFound
from funchost.functions import ACTIVITY, FunctionIndex
from funchost.worker_pool import WorkerPool

# Work carries the stamp (incarnation, generation) of the in-memory instance that dispatched it, so a
# result reaches only that copy: one reloaded after a lost write re-derives its own work instead.
Stamp = tuple[int, int]
Deliver = Callable[[str, Stamp, Event], None]


class WorkDispatcher:
    def __init__(
        self,
        index: FunctionIndex,
        store: DurableStore,
        clock: Callable[[], datetime],
        deliver: Deliver,
        send: Callable[[Message], None],
        stats: dict[str, int],
        worker: WorkerPool,
        max_activities: int,
        backend: BackendLimits = AZURE_STORAGE_LIMITS,
    ) -> None:
        self._index = index
        self._store = store
        self._clock = clock
        self._deliver = deliver
        self._send = send
        self._stats = stats
        self._worker = worker
        self._backend = backend
        self._activities = ThreadPoolExecutor(max_activities, thread_name_prefix="activity")
        self._timers: list[tuple[datetime, str, Stamp, int]] = []
        self._timer_wake = threading.Condition()
        self._stopping = False
        self._timer_thread = threading.Thread(target=self._run_timers, name="durable-timers", daemon=True)

    def start(self) -> None:
        self._timer_thread.start()

    def stop(self) -> None:
        """Stop; running activities finish in the background (their results are dropped and re-run later)."""
        with self._timer_wake:
            self._stopping = True
            self._timer_wake.notify_all()
        self._timer_thread.join(timeout=10)
        self._activities.shutdown(wait=False, cancel_futures=True)

    def dispatch(self, instance: InstanceRecord, stamp: Stamp, events: list[Event]) -> None:
        """Start the work of scheduling events: run activities, arm timers, start sub-orchestrations."""
        for scheduled in events:
            kind = kind_of(scheduled)
            if kind is EventType.TASK_SCHEDULED:
                self._activities.submit(self._run_activity, instance.instance_id, stamp, scheduled)
            elif kind is EventType.TIMER_CREATED:
                self._arm_timer(instance.instance_id, stamp, scheduled)
            elif kind is EventType.SUB_ORCHESTRATION_CREATED:
                self._start_child(instance, stamp[1], scheduled)

    def notify_parent(self, child: InstanceRecord) -> None:
        """Send a finished sub-orchestration's result to its parent (idempotent per child generation)."""
        parent = child.parent_instance_id
        if parent is None:  # a top-level orchestration: no one to tell
            return
        now = self._clock()
        message_id = f"child-{child.instance_id}-{child.generation}"
        if child.status is RuntimeStatus.COMPLETED:
            result = event(
                EventType.SUB_ORCHESTRATION_COMPLETED, now, TaskScheduledId=child.parent_task_id, Result=child.output
            )
        else:
            reason = child.output or f"sub-orchestration {child.instance_id} {child.status.value}"
            result = event(
                EventType.SUB_ORCHESTRATION_FAILED,
                now,
                TaskScheduledId=child.parent_task_id,
                Reason=reason,
                Details=_failure_details(child),
            )
        result["MessageId"] = message_id
        self._send(Message(parent, message_id, result, child.parent_generation))

    def _run_activity(self, instance_id: str, stamp: Stamp, scheduled: Event) -> None:
        done = run_activity(self._index.get(scheduled["Name"], ACTIVITY), scheduled, self._clock, self._worker.invoke)
        done = refused_output(done, scheduled["Name"], self._backend, self._clock)
        self._stats["activities"] += 1
        self._deliver(instance_id, stamp, done)

    def _arm_timer(self, instance_id: str, stamp: Stamp, created: Event) -> None:
        with self._timer_wake:
            fire_at = parse_timestamp(created["FireAt"])
            heapq.heappush(self._timers, (fire_at, instance_id, stamp, created["EventId"]))
            self._timer_wake.notify()

    def _run_timers(self) -> None:
        with self._timer_wake:
            while not self._stopping:
                now = self._clock()
                due = []
                while self._timers and self._timers[0][0] <= now:
                    due.append(heapq.heappop(self._timers))
                if due:
                    self._timer_wake.release()
                    try:
                        for fire_at, instance_id, stamp, timer_id in due:
                            fired = event(EventType.TIMER_FIRED, now, TimerId=timer_id, FireAt=timestamp(fire_at))
                            self._deliver(instance_id, stamp, fired)
                    finally:
                        self._timer_wake.acquire()
                    continue
                wait = (self._timers[0][0] - now).total_seconds() if self._timers else 1.0
                self._timer_wake.wait(timeout=max(0.001, min(wait, 1.0)))

    def _start_child(self, parent: InstanceRecord, generation: int, created: Event) -> None:
        child_id = created["InstanceId"]
        try:
            existing = self._store.get_instance(child_id)
        except NotFound:
            existing = None
        if existing is not None and existing.parent_instance_id == parent.instance_id:
            if existing.status.is_terminal:
                self.notify_parent(existing)
            return  # started before a restart: it runs (or ran) on its own
        now = self._clock()
        record = InstanceRecord(
            child_id,
            created["Name"],
            RuntimeStatus.PENDING,
            timestamp(now),
            timestamp(now),
            input=created.get("Input"),
            parent_instance_id=parent.instance_id,
            parent_task_id=created["EventId"],
            parent_generation=generation,
        )
        if existing is not None:
            self._store.delete_instance(child_id)
        self._store.create_instance(record)
        parent_ref = {"OrchestrationInstance": {"InstanceId": parent.instance_id}, "TaskScheduleId": created["EventId"]}
        started = execution_started(now, created["Name"], created.get("Input"), child_id, uuid.uuid4().hex, parent_ref)
        self._send(Message(child_id, f"start-{uuid.uuid4().hex}", started, 0))


def _failure_details(child: InstanceRecord) -> str | None:
    """The Details DTFx gives a parent when its child failed: the ``OrchestrationFailureException``'s
    ``$"Message: {execution.Error}, StackTrace: {.NET stack}"`` (``OutOfProcOrchestrationShim``); this
    host has no .NET stack to add."""
    prefix = f"Orchestrator function '{child.name}' failed: "
    if child.output is None or not child.output.startswith(prefix):
        return None
    return f"Message: {child.output[len(prefix) :]}, StackTrace: "
