"""What clients ask of the engine: start, raise events, terminate, suspend, resume, rewind, restart,
query, purge. The Durable HTTP API of the local host (``rpc.py``) calls these. A mixin of
:class:`~funchost.durable.engine.DurableEngine`, which provides the state they read and the
``_send`` that delivers their messages."""

from __future__ import annotations

import time
import unicodedata
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from funchost.durable.backend_limits import BackendLimits, InvalidInstanceId
from funchost.durable.history import Event, EventType, RuntimeStatus, event, execution_started, timestamp
from funchost.durable.instance_query import InstanceQuery
from funchost.durable.live import Live
from funchost.durable.rewind import RewindPlan
from funchost.durable.store import InstanceRecord, Message
from funchost.durable.suspension import RESUME, SUSPEND, TERMINATE
from funchost.errors import AlreadyExists, NotFound
from funchost.functions import ORCHESTRATION

# DurableClient.StartNewAsync's limit, counted in UTF-16 code units as .NET's string.Length counts them.
MAX_INSTANCE_ID_LENGTH = 256
_FORBIDDEN_IN_INSTANCE_ID = frozenset("/\\#?")

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from datetime import datetime

    from funchost.durable.status_writer import StatusWriter
    from funchost.durable.store import DurableStore
    from funchost.functions import FunctionIndex


def check_instance_id(instance_id: str) -> None:
    """InvalidInstanceId unless the Durable extension would start an instance under ``instance_id``.

    The rules and texts of ``DurableClient.StartNewAsync`` (Azure/azure-functions-durable-extension
    ``src/WebJobs.Extensions.DurableTask/ContextImplementations/DurableClient.cs``), checked in its order:
    no leading ``@`` (the prefix of entity ids), none of ``/ \\ # ?`` and no control character
    (``char.IsControl``: Unicode category Cc), at most 256 UTF-16 code units. The first two texts read
    oddly because the extension passes its message as the parameter name; .NET prints such an
    ArgumentException as ``instanceId (Parameter '...')``. An empty id is not refused: it gets a new one.
    """
    if instance_id.startswith("@"):
        raise InvalidInstanceId("instanceId (Parameter 'Orchestration instance ids must not start with @.')")
    if any(char in _FORBIDDEN_IN_INSTANCE_ID or unicodedata.category(char) == "Cc" for char in instance_id):
        raise InvalidInstanceId(
            "instanceId (Parameter 'Orchestration instance ids must not contain /, \\, #, ?, or control characters.')"
        )
    if len(instance_id.encode("utf-16-le")) // 2 > MAX_INSTANCE_ID_LENGTH:
        raise InvalidInstanceId(f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters.")


class ClientOperations:
    _index: FunctionIndex
    _store: DurableStore
    _clock: Callable[[], datetime]
    _lock: threading.RLock
    _live: dict[str, Live]
    _status: StatusWriter
    _backend: BackendLimits

    def _send(self, message: Message) -> None:
        raise NotImplementedError

    def start_new(self, name: str, instance_id: str | None, input_json: str | None) -> str:
        """Create an instance; KeyError for an unknown orchestrator, InvalidInstanceId for an id the extension or
        the backend refuses, PayloadTooLarge for an input the backend refuses (``backend_limits.py``),
        AlreadyExists if it is still running. ``name`` is kept as sent: orchestrator names match in any case, as
        function names do on Azure (the extension's FunctionName compares OrdinalIgnoreCase)."""
        self._require_orchestrator(name)
        if instance_id:
            check_instance_id(instance_id)
            self._backend.check_instance_id(instance_id)
        self._backend.check_payload("orchestration input", input_json)
        instance_id = instance_id or uuid.uuid4().hex
        now = timestamp(self._clock())
        try:
            existing = self.get_record(instance_id)  # the live view: the stored row may lag it
        except NotFound:
            existing = None
        if existing and not existing.status.is_terminal:
            # The extension's default overridableExistingInstanceStates (NonRunningStates): a Pending, Running
            # or Suspended instance is not replaced; DTFx's OrchestrationAlreadyExistsException text.
            raise AlreadyExists(f"An Orchestration instance with the status {existing.status.value} already exists.")
        if existing:
            self._status.flush()  # a lagging status write must not land on the new run's row
            with self._lock:
                self._live.pop(instance_id, None)
            self._store.delete_instance(instance_id)
        record = InstanceRecord(instance_id, name, RuntimeStatus.PENDING, now, now, input=input_json)
        self._store.create_instance(record)
        started = execution_started(self._clock(), name, input_json, instance_id, uuid.uuid4().hex, None)
        self._send(Message(instance_id, f"start-{uuid.uuid4().hex}", started, 0))
        return instance_id

    def _require_orchestrator(self, name: str) -> None:
        """KeyError with the extension's text (DurableTaskExtension.GetInvalidOrchestratorFunctionMessage)."""
        try:
            self._index.get(name, ORCHESTRATION)
            return
        except KeyError:
            known = sorted(entry.name for entry in self._index.of_type(ORCHESTRATION))
        quoted = "', '".join(known)
        listed = f"The following are the known orchestrator functions: '{quoted}'."
        raise KeyError(
            f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. Additional info: "
            + (listed if known else "No orchestrator functions are currently registered!")
        )

    def raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        """Deliver an external event; NotFound if no such instance, AlreadyExists-free for finished ones;
        PayloadTooLarge for data the backend refuses."""
        self._backend.check_payload(f"data of external event '{name}'", data_json)
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

    def suspend(self, instance_id: str, reason: str) -> bool:
        """Hold the instance's episodes (see suspension.py); False if it had already finished."""
        return self._control(instance_id, EventType.EXECUTION_SUSPENDED, SUSPEND, reason)

    def resume(self, instance_id: str, reason: str) -> bool:
        """Apply what was held and go on; False if it had already finished."""
        return self._control(instance_id, EventType.EXECUTION_RESUMED, RESUME, reason)

    def _control(self, instance_id: str, kind: EventType, control: str, reason: str) -> bool:
        if self.get_record(instance_id).status.is_terminal:
            return False
        message_id = f"{control.lower()}-{uuid.uuid4().hex}"
        control_event = event(kind, self._clock(), Reason=reason, MessageId=message_id, Kind=control)
        self._send(Message(instance_id, message_id, control_event))
        return True

    def restart(self, instance_id: str, new_instance_id: bool) -> str:
        """Start the instance's orchestrator again with its input, under a new id or its own; NotFound if
        absent, AlreadyExists if its own id is still running (DurableClient.RestartAsync)."""
        record = self.get_record(instance_id)
        return self.start_new(record.name, None if new_instance_id else instance_id, record.input)

    def rewind(self, instance_id: str, reason: str) -> None:
        """Run a Failed instance again from its failures (see rewind.py); NotFound if absent.

        The caller checks that it is Failed, as the extension's HTTP handler does."""
        self._status.flush()
        now = timestamp(self._clock())
        for leaf in self._rewind_tree(instance_id, now):
            message_id = f"rewind-{uuid.uuid4().hex}"
            revive = event(EventType.GENERIC_EVENT, self._clock(), Data=reason, MessageId=message_id)
            self._send(Message(leaf, message_id, revive))

    def _rewind_tree(self, instance_id: str, now: str) -> list[str]:
        """Rewrite the history of an instance and of its failed sub-orchestrations; the instances to revive."""
        with self._lock:
            self._live.pop(instance_id, None)
        history = self._store.load_history(instance_id)
        plan = RewindPlan.of(history.events)
        self._store.rewrite_history(instance_id, history.generation, plan.rewrite)
        record = self._store.get_instance(instance_id)
        pending = replace(record, status=RuntimeStatus.PENDING, output=None, completed_time=None, last_updated_time=now)
        self._store.put_instance(pending)
        leaves = [leaf for child in plan.failed_children for leaf in self._rewind_tree(child, now)]
        return leaves or [instance_id]

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

    def purge_matching(self, query: InstanceQuery) -> int:
        """Delete the finished instances a query selects (all pages); how many were deleted."""
        chosen = [r for r in self.list_records() if r.status.is_terminal and query.matches(r)]
        return sum(1 for record in chosen if self.purge(record.instance_id))

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
