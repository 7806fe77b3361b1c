"""The durable engine: runs orchestration episodes, activities, timers and sub-orchestrations.

An *episode* is one turn of an instance: the inbound events waiting for it (start, activity results,
fired timers, raised events, sub-orchestration results) go after an ``OrchestratorStarted``, the
orchestrator runs over them (an extended session, or a full replay), the work it asks for is appended,
and the whole episode is committed to history with one insert. Only then is the new work dispatched:
activities to a bounded thread pool, timers to the timer thread, sub-orchestrations started.

Crash safety comes from deriving pending work from committed history on load: a scheduled task with
no completion runs again, an unfired timer is re-armed, a started child is re-checked, and inbound
messages (start, raise, terminate, child results) are kept in the Messages table until applied.
Activity results and timer firings are not messages: they reach history in the next episode, which
groups every result that arrived meanwhile (group commit); a crash before that commit re-runs those
activities, within Durable Functions' at-least-once activity contract.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

from controlplane.errors import AlreadyExists, NotFound
from controlplane.local.durable.activities import run_activity
from controlplane.local.durable.history import (
    Event,
    EventType,
    RuntimeStatus,
    completed_ids,
    event,
    execution_started,
    is_duplicate,
    kind_of,
    parse_timestamp,
    timestamp,
)
from controlplane.local.durable.live import Commit, Inbound, Live, encode
from controlplane.local.durable.replay import OrchestrationSession, Outcome, TimerLimits
from controlplane.local.durable.status_writer import StatusWriter
from controlplane.local.durable.store import DurableStore, InstanceRecord, Message
from controlplane.local.durable.work import Ledger, NewWork, NonDeterminism, Unsupported, new_work
from controlplane.local.durable.writer import HistoryWriter
from controlplane.local.functions import ACTIVITY, ORCHESTRATION, FunctionIndex

log = logging.getLogger("controlplane.durable")
TERMINATE = "Terminate"


def utcnow() -> datetime:
    return datetime.now(UTC)


class DurableEngine:
    def __init__(
        self,
        index: FunctionIndex,
        store: DurableStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        activity_workers: int = 16,
        orchestration_workers: int = 2,
        limits: TimerLimits = TimerLimits(),  # noqa: B008 - immutable
        extended_sessions: bool = True,
        session_idle_seconds: float = 30.0,
        verify_sessions: bool = False,
    ) -> None:
        self._index = index
        self._store = store
        self._clock = clock
        self._limits = limits
        self._extended = extended_sessions
        self._idle = session_idle_seconds
        self._verify = verify_sessions
        self._lock = threading.RLock()
        self._live: dict[str, Live] = {}
        self._queued: set[str] = set()
        self._ready: queue.Queue[str | None] = queue.Queue()
        self._timers: list[tuple[datetime, str, int, int]] = []
        self._timer_wake = threading.Condition(self._lock)
        self._activities = ThreadPoolExecutor(activity_workers, thread_name_prefix="activity")
        self._writer = HistoryWriter(store, self._durable, self._write_failed)
        self._background = ThreadPoolExecutor(2, thread_name_prefix="durable-io")
        self._status = StatusWriter(store)
        self._workers = [
            threading.Thread(target=self._work, name=f"orchestrator-{n}", daemon=True)
            for n in range(orchestration_workers)
        ]
        self._timer_thread = threading.Thread(target=self._run_timers, name="durable-timers", daemon=True)
        self._stopping = False
        self._last_eviction = 0.0
        self.stats = {"episodes": 0, "full_replays": 0, "session_steps": 0, "activities": 0}

    # Lifecycle

    def start(self) -> None:
        """Resume every unfinished instance, then start processing."""
        self._store.create_tables()
        self._status.start()
        for worker in [*self._workers, self._timer_thread]:
            worker.start()
        for record in self._store.list_instances([RuntimeStatus.PENDING, RuntimeStatus.RUNNING]):
            self._notify(record.instance_id)
        for message in self._store.all_messages():
            self._notify(message.instance_id)

    def stop(self) -> None:
        """Stop processing; running activities finish in the background and re-run after a restart."""
        with self._lock:
            self._stopping = True
            self._timer_wake.notify_all()
        for _ in self._workers:
            self._ready.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
        self._activities.shutdown(wait=False, cancel_futures=True)
        self._writer.stop()
        self._background.shutdown(wait=True)
        self._status.stop()

    # Client operations

    def start_new(self, name: str, instance_id: str | None, input_json: str | None) -> str:
        """Create an instance; NotFound for an unknown orchestrator, AlreadyExists if it is still running."""
        self._index.get(name, ORCHESTRATION)
        instance_id = instance_id or uuid.uuid4().hex
        now = timestamp(self._clock())
        try:
            existing = self._store.get_instance(instance_id)
        except NotFound:
            existing = None
        if existing and not existing.status.is_terminal:
            raise AlreadyExists(f"instance {instance_id} is {existing.status.value}")
        if existing:
            with self._lock:
                self._live.pop(instance_id, None)
            self._store.delete_instance(instance_id)
        record = InstanceRecord(instance_id, name, RuntimeStatus.PENDING, now, now, input=input_json)
        self._store.create_instance(record)
        started = execution_started(self._clock(), name, input_json, instance_id, uuid.uuid4().hex, None)
        self._send(Message(instance_id, f"start-{uuid.uuid4().hex}", started, 0))
        return instance_id

    def raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        """Deliver an external event; NotFound if no such instance, AlreadyExists-free for finished ones."""
        record = self.get_record(instance_id)
        if record.status.is_terminal:
            raise NotFound(f"instance {instance_id} is {record.status.value}; it takes no more events")
        message_id = f"event-{uuid.uuid4().hex}"
        raised = event(EventType.EVENT_RAISED, self._clock(), Name=name, Input=data_json, MessageId=message_id)
        self._send(Message(instance_id, message_id, raised))

    def terminate(self, instance_id: str, reason: str) -> bool:
        """Ask a running instance to stop; False if it had already finished."""
        record = self.get_record(instance_id)
        if record.status.is_terminal:
            return False
        message_id = f"terminate-{uuid.uuid4().hex}"
        stop = event(EventType.EXECUTION_TERMINATED, self._clock(), Input=reason, MessageId=message_id, Kind=TERMINATE)
        self._send(Message(instance_id, message_id, stop))
        return True

    def get_record(self, instance_id: str) -> InstanceRecord:
        """The newest known state of an instance; NotFound if there is none."""
        with self._lock:
            live = self._live.get(instance_id)
            if live is not None:
                return live.record
        pending = self._status.pending(instance_id)
        if pending is not None:
            return pending
        stored = self._store.get_instance(instance_id)
        if stored.status.is_terminal:
            return stored
        # Not loaded yet (just after a restart): the row may lag history; history is the truth.
        return Live.from_history(stored, self._store.load_history(instance_id, repair=False)).record

    def history(self, instance_id: str) -> list[Event]:
        with self._lock:
            live = self._live.get(instance_id)
            if live is not None:
                return list(live.history)
        return self._store.load_history(instance_id).events

    def list_records(self) -> list[InstanceRecord]:
        stored = {record.instance_id: record for record in self._store.list_instances()}
        with self._lock:
            stored.update({key: live.record for key, live in self._live.items()})
        return list(stored.values())

    def purge(self, instance_id: str) -> bool:
        """Delete a finished instance with its history; False if absent. Running ones are refused."""
        try:
            record = self.get_record(instance_id)
        except NotFound:
            return False
        if not record.status.is_terminal:
            raise AlreadyExists(f"instance {instance_id} is {record.status.value}; terminate it first")
        self._status.flush()
        with self._lock:
            self._live.pop(instance_id, None)
        return self._store.delete_instance(instance_id)

    def wait(self, instance_id: str, timeout: float = 30.0) -> InstanceRecord:
        """Block until the instance is Completed, Failed or Terminated (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.get_record(instance_id)
            if record.status.is_terminal:
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"instance {instance_id} still {record.status.value} after {timeout} s")
            time.sleep(0.005)

    # Scheduling

    def _send(self, message: Message) -> None:
        self._store.put_message(message)
        with self._lock:
            live = self._live.get(message.instance_id)
            if live is not None:
                live.inbox.append((message.event, message.message_id, message.generation))
        self._notify(message.instance_id)

    def _deliver(self, instance_id: str, generation: int, inbound: Event) -> None:
        with self._lock:
            live = self._live.get(instance_id)
            if live is None or live.generation != generation:
                return  # evicted: the work is re-derived from history when the instance loads again
            live.inbox.append((inbound, None, generation))
        self._notify(instance_id)

    def _notify(self, instance_id: str) -> None:
        with self._lock:
            if instance_id in self._queued or self._stopping:
                return
            self._queued.add(instance_id)
        self._ready.put(instance_id)

    def _work(self) -> None:
        while True:
            instance_id = self._ready.get()
            if instance_id is None:
                return
            try:
                self._process(instance_id)
            except Exception:
                log.exception("instance %s: episode failed; it will be retried", instance_id)
                with self._lock:
                    self._live.pop(instance_id, None)
                time.sleep(0.05)
                with self._lock:
                    self._queued.discard(instance_id)
                self._notify(instance_id)
                continue
            with self._lock:
                self._queued.discard(instance_id)
                live = self._live.get(instance_id)
                again = live is not None and bool(live.inbox)
            if again:
                self._notify(instance_id)
            self._evict_idle()

    # Episodes

    def _process(self, instance_id: str) -> None:
        live = self._load(instance_id)
        if live is None:
            return
        with self._lock:
            batch, live.inbox = live.inbox, []
        consumed = [message_id for _, message_id, _ in batch if message_id]
        inbound = self._fresh(live, batch)
        if live.finished or not inbound:
            self._forget_messages(instance_id, consumed)
            return
        now = self._clock()
        episode = [event(EventType.ORCHESTRATOR_STARTED, now), *inbound]
        terminate = next((e for e in inbound if e.get("Kind") == TERMINATE), None)
        if terminate is not None:
            episode = [episode[0], terminate]
            status, output, work = RuntimeStatus.TERMINATED, terminate.get("Input"), NewWork([])
        else:
            status, output, work = self._decide(live, episode, now)
        episode.extend(work.events)
        episode.extend(_closing_events(status, output, work, now, live.custom_status))
        with self._lock:
            live.history.extend(episode)
            live.completed |= completed_ids(episode)
            live.ledger.record(episode)
            live.touched = time.monotonic()
            live.finished = status.is_terminal
        self._writer.submit(Commit(live, live.generation, episode, status, output, consumed, now))
        # Speculative: work starts while its episode commits. If the commit is lost, the work is re-derived
        # from committed history and runs again, within the at-least-once contract.
        self._dispatch(live, work.events)
        if status is RuntimeStatus.CONTINUED_AS_NEW:
            self._continue_as_new(live, work.continue_as_new[1], now)

    def _durable(self, commit: Commit) -> None:
        """What follows once an episode is in history: status, consumed messages, old generations, parent."""
        live = commit.live
        self.stats["episodes"] += 1
        self._record_status(live, commit)
        self._forget_messages(live.record.instance_id, commit.consumed)
        if commit.status is RuntimeStatus.CONTINUED_AS_NEW:
            self._background.submit(self._store.drop_generations_before, live.record.instance_id, commit.generation + 1)
        elif commit.status.is_terminal:
            self._finished(live)

    def _write_failed(self, live: Live, error: Exception) -> None:
        """A history write failed: drop this copy; the instance reloads from what is durable and goes on."""
        instance_id = live.record.instance_id
        log.warning("instance %s: history write failed (%s); reloading", instance_id, error)
        with self._lock:
            if self._live.get(instance_id) is live:
                del self._live[instance_id]
        self._notify(instance_id)

    def _fresh(self, live: Live, batch: list[Inbound]) -> list[Event]:
        fresh: list[Event] = []
        for inbound, _, generation in batch:
            if generation is not None and generation != live.generation:
                continue
            if is_duplicate(inbound, live.completed, live.message_ids):
                continue
            if kind_of(inbound) is EventType.EXECUTION_STARTED and live.history:
                continue
            fresh.append(inbound)
            if inbound.get("MessageId"):
                live.message_ids.add(inbound["MessageId"])
        return fresh

    def _decide(self, live: Live, episode: list[Event], now: datetime) -> tuple[RuntimeStatus, str | None, NewWork]:
        try:
            outcome, session, advanced = self._run(live, episode)
            work = NewWork([]) if outcome.failed else new_work(session.context, live.ledger, now, outcome.is_done)
            if self._verify and advanced:
                self._verify_against_replay(live, episode, outcome, work)
        except (NonDeterminism, Unsupported) as error:
            live.session = None
            return RuntimeStatus.FAILED, str(error), NewWork([])
        if outcome.failed:
            return RuntimeStatus.FAILED, outcome.error, work
        live.custom_status = encode(outcome.custom_status)
        if work.continue_as_new[0]:
            return RuntimeStatus.CONTINUED_AS_NEW, None, work
        if outcome.is_done:
            return RuntimeStatus.COMPLETED, encode(outcome.output), work
        return RuntimeStatus.RUNNING, None, work

    def _run(self, live: Live, episode: list[Event]) -> tuple[Outcome, OrchestrationSession, bool]:
        """Run the episode on the live session when there is one, else replay in full; say which."""
        if self._extended and live.session is not None and not live.session.finished:
            self.stats["session_steps"] += 1
            return live.session.advance(episode), live.session, True
        session = self._new_session(live)
        live.ledger.forget_session()
        outcome = session.replay(live.history + episode, live.input_json)
        self.stats["full_replays"] += 1
        live.session = session if self._extended else None
        return outcome, session, False

    def _verify_against_replay(self, live: Live, episode: list[Event], outcome: Outcome, work: NewWork) -> None:
        """Tests: the extended session must decide exactly what a full replay of the same history decides."""
        fresh = self._new_session(live)
        expected = fresh.replay(live.history + episode, live.input_json)
        now = parse_timestamp(episode[0]["Timestamp"])
        theirs = (
            NewWork([]) if expected.failed else new_work(fresh.context, Ledger(live.history), now, expected.is_done)
        )
        replayed = {key: value for key, value in expected.state.items() if key not in ("actions", "schemaVersion")}
        if (replayed, expected.error) != (outcome.state, outcome.error) or work != theirs:
            raise AssertionError(
                f"extended session diverged from full replay for {live.record.instance_id}: "
                f"{outcome.state} / {work} vs {expected.state} / {theirs}"
            )

    def _new_session(self, live: Live) -> OrchestrationSession:
        entry = self._index.get(live.record.name, ORCHESTRATION)
        return OrchestrationSession(
            entry.handler, live.record.instance_id, live.record.parent_instance_id, self._limits
        )

    def _record_status(self, live: Live, commit: Commit) -> None:
        with self._lock:
            record = live.record
            updated = replace(
                record,
                status=commit.status,
                output=commit.output if commit.status.is_terminal else record.output,
                custom_status=live.custom_status,
                last_updated_time=timestamp(commit.at),
                completed_time=timestamp(commit.at) if commit.status.is_terminal else None,
            )
            changed = (updated.status, updated.output, updated.custom_status) != (
                record.status,
                record.output,
                record.custom_status,
            )
            live.record = updated
        if changed:
            self._status.put(updated, urgent=commit.status.is_terminal)

    def _dispatch(self, live: Live, events: list[Event]) -> None:
        for scheduled in events:
            kind = kind_of(scheduled)
            if kind is EventType.TASK_SCHEDULED:
                self._schedule_activity(live.record.instance_id, live.generation, scheduled)
            elif kind is EventType.TIMER_CREATED:
                self._arm_timer(live.record.instance_id, live.generation, scheduled)
            elif kind is EventType.SUB_ORCHESTRATION_CREATED:
                self._start_child(live, scheduled)

    def _schedule_activity(self, instance_id: str, generation: int, scheduled: Event) -> None:
        def run() -> None:
            entry = self._index.get(scheduled["Name"], ACTIVITY)
            done = run_activity(entry, scheduled, self._clock)
            self.stats["activities"] += 1
            self._deliver(instance_id, generation, done)

        self._activities.submit(run)

    def _arm_timer(self, instance_id: str, generation: int, created: Event) -> None:
        with self._timer_wake:
            heapq.heappush(
                self._timers, (parse_timestamp(created["FireAt"]), instance_id, generation, created["EventId"])
            )
            self._timer_wake.notify()

    def _run_timers(self) -> None:
        with self._timer_wake:
            while not self._stopping:
                now = self._clock()
                while self._timers and self._timers[0][0] <= now:
                    fire_at, instance_id, generation, timer_id = heapq.heappop(self._timers)
                    fired = event(EventType.TIMER_FIRED, now, TimerId=timer_id, FireAt=timestamp(fire_at))
                    self._background.submit(self._deliver, instance_id, generation, fired)
                wait = (self._timers[0][0] - now).total_seconds() if self._timers else 1.0
                self._timer_wake.wait(timeout=max(0.001, min(wait, 1.0)))

    def _start_child(self, parent: Live, created: Event) -> None:
        child_id = created["InstanceId"]
        try:
            existing = self._store.get_instance(child_id)
        except NotFound:
            existing = None
        if existing is not None and existing.parent_instance_id == parent.record.instance_id:
            if existing.status.is_terminal:
                self._notify_parent(existing)
            return
        now = self._clock()
        record = InstanceRecord(
            child_id,
            created["Name"],
            RuntimeStatus.PENDING,
            timestamp(now),
            timestamp(now),
            input=created.get("Input"),
            parent_instance_id=parent.record.instance_id,
            parent_task_id=created["EventId"],
            parent_generation=parent.generation,
        )
        if existing is not None:
            self._store.delete_instance(child_id)
        self._store.create_instance(record)
        parent_ref = {
            "OrchestrationInstance": {"InstanceId": parent.record.instance_id},
            "TaskScheduleId": created["EventId"],
        }
        started = execution_started(now, created["Name"], created.get("Input"), child_id, uuid.uuid4().hex, parent_ref)
        self._send(Message(child_id, f"start-{uuid.uuid4().hex}", started, 0))

    def _finished(self, live: Live) -> None:
        log.info("instance %s %s", live.record.instance_id, live.record.status.value)
        if live.record.parent_instance_id:
            self._notify_parent(live.record)
        with self._lock:
            live.session = None

    def _notify_parent(self, child: InstanceRecord) -> None:
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
                Details=None,
            )
        result["MessageId"] = message_id
        self._send(Message(child.parent_instance_id, message_id, result, child.parent_generation))

    def _continue_as_new(self, live: Live, input_json: str | None, now: datetime) -> None:
        carried = [(e, m, None) for e, m, _ in live.inbox if kind_of(e) is EventType.EVENT_RAISED]
        started = execution_started(now, live.record.name, input_json, live.record.instance_id, uuid.uuid4().hex, None)
        with self._lock:
            live.restart(input_json, started, carried)
        self._background.submit(self._store.drop_generations_before, live.record.instance_id, live.generation)
        self._notify(live.record.instance_id)

    def _forget_messages(self, instance_id: str, message_ids: list[str]) -> None:
        for message_id in message_ids:
            self._background.submit(self._store.delete_message, instance_id, message_id)

    # Loading and recovery

    def _load(self, instance_id: str) -> Live | None:
        with self._lock:
            live = self._live.get(instance_id)
            if live is not None:
                return live
        try:
            record = self._status.pending(instance_id) or self._store.get_instance(instance_id)
        except NotFound:
            for message in self._store.messages(instance_id):
                self._store.delete_message(instance_id, message.message_id)
            return None
        history = self._store.load_history(instance_id)
        live = Live.from_history(record, history)
        for message in self._store.messages(instance_id):
            live.inbox.append((message.event, message.message_id, message.generation))
        with self._lock:
            self._live[instance_id] = live
        self._resume_pending_work(live)
        return live

    def _resume_pending_work(self, live: Live) -> None:
        """Re-dispatch what committed history scheduled but never saw finish (after a restart)."""
        if live.record.status.is_terminal:
            if live.record.parent_instance_id:
                self._notify_parent(live.record)
            return
        open_work = [e for e in live.history if kind_of(e) in _SCHEDULED_KINDS and e["EventId"] not in live.completed]
        self._dispatch(live, open_work)

    def _evict_idle(self) -> None:
        """Drop extended sessions idle for ``session_idle_seconds`` (the next episode replays in full) and
        forget finished instances whose rows are written. Runs at most once a second."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_eviction < 1.0:
                return
            self._last_eviction = now
            for key, live in list(self._live.items()):
                settled = live.idle.is_set()
                if live.finished and settled and key not in self._queued and not self._status.pending(key):
                    del self._live[key]
                elif live.session is not None and live.touched < now - self._idle:
                    live.session = None


_SCHEDULED_KINDS = frozenset({EventType.TASK_SCHEDULED, EventType.TIMER_CREATED, EventType.SUB_ORCHESTRATION_CREATED})


def _closing_events(
    status: RuntimeStatus, output: str | None, work: NewWork, now: datetime, custom_status: str | None
) -> list[Event]:
    closing: list[Event] = []
    if status is RuntimeStatus.CONTINUED_AS_NEW:
        closing.append(event(EventType.CONTINUE_AS_NEW, now, Result=work.continue_as_new[1]))
    elif status in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED):
        closing.append(event(EventType.EXECUTION_COMPLETED, now, OrchestrationStatus=status.value, Result=output))
    completed = event(EventType.ORCHESTRATOR_COMPLETED, now)
    if custom_status is not None:
        completed["CustomStatus"] = custom_status
    closing.append(completed)
    return closing
