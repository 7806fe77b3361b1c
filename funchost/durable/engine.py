"""The durable engine: runs orchestration episodes, activities, timers and sub-orchestrations.

An *episode* is one turn of an instance: the inbound events waiting for it (start, activity results,
fired timers, raised events, sub-orchestration results) go after an ``OrchestratorStarted``, the
orchestrator replays the whole history with them (as the Functions host runs Python: no extended
sessions), and the work it asks for is appended. The episode goes to the history writer (group
commit: episodes decided while a write is in flight share the next row) and its work is dispatched at
once, speculatively: activities to a bounded pool, timers to the timer thread, sub-orchestrations
started as child instances.

Concurrency as on Azure: at most ``maxConcurrentOrchestratorFunctions`` episodes and
``maxConcurrentActivityFunctions`` activities at once (``DurableConcurrency``: one orchestrator thread per
allowed episode, one activity slot per allowed activity), and the function code itself (the orchestrator's
replay, the activity) on the Python worker's one thread pool, shared with every other sync function of the
host (``WorkerPool``).

Crash safety comes from deriving pending work from durable history on load: a scheduled task with no
completion runs again, an unfired timer is re-armed, a started child is re-checked, and inbound
messages (start, raise, terminate, child results) stay in the Messages table until the episode that
applies them is durable. Activity results and timer firings are not messages: they reach history with
the next episode; a crash before that write re-runs those activities, within Durable Functions'
at-least-once activity contract. A failed write drops the in-memory copy, which reloads from history.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

from funchost.durable import suspension
from funchost.durable.backend_limits import AZURE_STORAGE_LIMITS, BackendLimits
from funchost.durable.client_ops import TERMINATE, ClientOperations
from funchost.durable.dispatch import Stamp, WorkDispatcher
from funchost.durable.episodes import Decision, EpisodeReport, EpisodeRunner, closing_events
from funchost.durable.history import (
    SCHEDULING,
    Event,
    EventType,
    RuntimeStatus,
    completed_ids,
    event,
    execution_started,
    is_duplicate,
    kind_of,
    timestamp,
)
from funchost.durable.live import Commit, Inbound, Live
from funchost.durable.replay import TimerLimits
from funchost.durable.status_writer import StatusWriter
from funchost.durable.store import DurableStore, Message
from funchost.durable.work import NewWork
from funchost.durable.writer import HistoryWriter
from funchost.errors import NotFound
from funchost.functions import FunctionIndex
from funchost.settings import DurableConcurrency
from funchost.worker_pool import WorkerPool

log = logging.getLogger("funchost.durable")


def utcnow() -> datetime:
    return datetime.now(UTC)


class DurableEngine(ClientOperations):
    def __init__(
        self,
        index: FunctionIndex,
        store: DurableStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        concurrency: DurableConcurrency = DurableConcurrency(),  # noqa: B008 - immutable
        worker: WorkerPool | None = None,
        limits: TimerLimits = TimerLimits(),  # noqa: B008 - immutable
        observer: Callable[[EpisodeReport], None] | None = None,
        backend: BackendLimits = AZURE_STORAGE_LIMITS,
    ) -> None:
        """``worker``: where function code runs; without it, a pool of the worker's default size of its own, with
        an event loop of its own for async functions, shut down with the engine. ``observer``: called with every
        decided episode, on the orchestrator thread that decided it, before its work is dispatched (so an episode
        is reported before any episode its work causes, a child's included); it must be quick, thread-safe and
        must not raise. It changes nothing the engine does: bench/deployment_cost.py counts replayed events and
        round trips with it. ``backend``: what the backend the app selects refuses beyond the extension's checks
        (``backend_limits.py``)."""
        self._index = index
        self._store = store
        self._clock = clock
        self._lock = threading.RLock()
        self._live: dict[str, Live] = {}
        self._queued: set[str] = set()
        self._ready: queue.Queue[str | None] = queue.Queue()
        self.stats = {"episodes": 0, "replays": 0, "activities": 0}
        self._backend = backend
        self._runner = EpisodeRunner(index, limits, self.stats, backend)
        self._own_worker = worker is None
        self._worker = worker or WorkerPool()
        if self._own_worker:
            self._worker.run_own_loop()
        self._work = WorkDispatcher(
            index, store, clock, self._deliver, self._send, self.stats, self._worker, concurrency.activities, backend
        )
        self._writer = HistoryWriter(store, self._durable, self._write_failed)
        self._background = ThreadPoolExecutor(2, thread_name_prefix="durable-io")
        self._status = StatusWriter(store)
        self._workers = [
            threading.Thread(target=self._serve, name=f"orchestrator-{n}", daemon=True)
            for n in range(concurrency.orchestrators)
        ]
        self._stopping = False
        self._last_forget = 0.0
        self._incarnations = itertools.count(1)
        self._reload: set[str] = set()
        self._observer = observer

    # Lifecycle

    def start(self) -> None:
        """Resume every unfinished instance, then start processing."""
        self._store.create_tables()
        self._status.start()
        self._work.start()
        for worker in self._workers:
            worker.start()
        for record in self._store.list_instances([RuntimeStatus.PENDING, RuntimeStatus.RUNNING]):
            self._notify(record.instance_id)
        for message in self._store.all_messages():
            self._notify(message.instance_id)

    def stop(self) -> None:
        """Stop processing; running activities finish in the background and re-run after a restart."""
        with self._lock:
            self._stopping = True
        for _ in self._workers:
            self._ready.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
        self._work.stop()
        self._writer.stop()
        self._background.shutdown(wait=True)
        self._status.stop()
        if self._own_worker:
            self._worker.shutdown()

    # Scheduling

    def _send(self, message: Message) -> None:
        self._store.put_message(message)
        with self._lock:
            live = self._live.get(message.instance_id)
            if live is not None:
                live.inbox.append((message.event, message.message_id, message.generation))
        self._notify(message.instance_id)

    def _deliver(self, instance_id: str, stamp: Stamp, inbound: Event) -> None:
        with self._lock:
            live = self._live.get(instance_id)
            if live is None or (live.incarnation, live.generation) != stamp:
                return  # for a copy that is gone: the work is re-derived from history when it loads again
            live.inbox.append((inbound, None, live.generation))
        self._notify(instance_id)

    def _notify(self, instance_id: str) -> None:
        with self._lock:
            if instance_id in self._queued or self._stopping:
                return
            self._queued.add(instance_id)
        self._ready.put(instance_id)

    def _serve(self) -> None:
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
                again = (live is not None and bool(live.inbox)) or instance_id in self._reload
                self._reload.discard(instance_id)
            if again:
                self._notify(instance_id)
            self._forget_finished()

    # Episodes

    def _process(self, instance_id: str) -> None:
        live = self._load(instance_id)
        if live is None:
            return
        with self._lock:
            batch, live.inbox = suspension.split_batch(live.inbox)
        consumed = [message_id for _, message_id, _ in batch if message_id]
        inbound = self._fresh(live, batch)
        if not live.finished:
            inbound, consumed = self._gate(live, inbound, consumed)
        if live.finished or not inbound:
            self._forget_messages(instance_id, consumed)
            return
        now = self._clock()
        episode = [event(EventType.ORCHESTRATOR_STARTED, now), *inbound]
        terminate = next((e for e in inbound if e.get("Kind") == TERMINATE), None)
        replayed = 0
        if terminate is not None:
            episode = [episode[0], terminate]
            decision = Decision(RuntimeStatus.TERMINATED, terminate.get("Input"), NewWork([]))
        elif live.suspended:
            decision = Decision(RuntimeStatus.SUSPENDED, None, NewWork([]))
        else:
            replayed = len(live.history) + len(episode)
            decision = self._worker.call(self._runner.decide, live, episode, now)  # the replay runs the function
        episode.extend(decision.work.events)
        episode.extend(closing_events(decision, now, live.custom_status))
        if self._observer is not None:
            self._observer(EpisodeReport(live.record, live.generation, replayed, tuple(episode)))
        with self._lock:
            live.history.extend(episode)
            live.completed |= completed_ids(episode)
            live.ledger.record(episode)
            live.finished = decision.status.is_terminal
        self._writer.submit(Commit(live, live.generation, episode, decision.status, decision.output, consumed, now))
        # Speculative: work starts while its episode is written. If the write is lost, the work is re-derived
        # from durable history and runs again, within the at-least-once contract.
        self._work.dispatch(live.record, (live.incarnation, live.generation), decision.work.events)
        if decision.status is RuntimeStatus.CONTINUED_AS_NEW:
            self._continue_as_new(live, decision.work.continue_as_new[1], now)

    def _gate(self, live: Live, inbound: list[Event], consumed: list[str]) -> tuple[list[Event], list[str]]:
        """Suspension (see suspension.py): what this episode runs, and the messages it consumes. Held
        events keep their messages until the episode that releases them."""
        before = suspension.message_ids(live.held)
        run, live.held, live.suspended = suspension.gate(inbound, live.held, live.suspended)
        holding = suspension.message_ids(live.held)
        return run, [m for m in consumed if m not in holding] + sorted(before - holding)

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
            self._reload.add(instance_id)  # a worker holding the instance right now re-queues it when done
        self._notify(instance_id)

    def _fresh(self, live: Live, batch: list[Inbound]) -> list[Event]:
        fresh: list[Event] = []
        for inbound, _, generation in batch:
            if generation is not None and generation != live.generation:
                continue
            if is_duplicate(inbound, live.completed, live.message_ids):
                continue
            started = kind_of(inbound) is EventType.EXECUTION_STARTED
            if started and (live.history or any(kind_of(e) is EventType.EXECUTION_STARTED for e in fresh)):
                continue  # a start message read from the store and also handed over in memory
            fresh.append(inbound)
            if inbound.get("MessageId"):
                live.message_ids.add(inbound["MessageId"])
        return fresh

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

    def _finished(self, live: Live) -> None:
        log.info("instance %s %s", live.record.instance_id, live.record.status.value)
        if live.record.parent_instance_id:
            self._work.notify_parent(live.record)

    def _continue_as_new(self, live: Live, input_json: str | None, now: datetime) -> None:
        carried: list[Inbound] = [(e, m, None) for e, m, _ in live.inbox if kind_of(e) is EventType.EVENT_RAISED]
        started = execution_started(now, live.record.name, input_json, live.record.instance_id, uuid.uuid4().hex, None)
        with self._lock:
            live.restart(input_json, started, carried)
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
        live.incarnation = next(self._incarnations)
        with self._lock:
            # Reading the stored messages and publishing the copy happen under the lock _send takes, so a
            # message sent meanwhile is either read here or appended to this copy's inbox (a message read
            # twice is dropped as a duplicate by its id). A start message goes first: child results and
            # raised events may have been stored before it.
            messages = sorted(self._store.messages(instance_id), key=_message_order)
            live.inbox.extend((message.event, message.message_id, message.generation) for message in messages)
            self._live[instance_id] = live
        self._resume_pending_work(live)
        return live

    def _resume_pending_work(self, live: Live) -> None:
        """Re-dispatch what committed history scheduled but never saw finish (after a restart)."""
        if live.record.status.is_terminal:
            if live.record.parent_instance_id:
                self._work.notify_parent(live.record)
            return
        open_work = [e for e in live.history if kind_of(e) in SCHEDULING and e["EventId"] not in live.completed]
        self._work.dispatch(live.record, (live.incarnation, live.generation), open_work)

    def _forget_finished(self) -> None:
        """Drop from memory the finished instances whose rows are written. Runs at most once a second."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_forget < 1.0:
                return
            self._last_forget = now
            for key, live in list(self._live.items()):
                settled = live.idle.is_set()
                if live.finished and settled and key not in self._queued and not self._status.pending(key):
                    del self._live[key]


def _message_order(message: Message) -> tuple[bool, str]:
    return kind_of(message.event) is not EventType.EXECUTION_STARTED, message.event["Timestamp"]
