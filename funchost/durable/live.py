"""The in-memory state of one instance between episodes: its history, inbox and write progress."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from funchost.durable.history import Event, EventType, RuntimeStatus, completed_ids, kind_of
from funchost.durable.store import History, InstanceRecord
from funchost.durable.suspension import suspended_in
from funchost.durable.work import Ledger

Inbound = tuple[Event, str | None, int | None]  # (event, message id if persisted, generation it targets)


def _set_event() -> threading.Event:
    idle = threading.Event()
    idle.set()
    return idle


@dataclass
class Live:
    record: InstanceRecord
    generation: int
    history: list[Event]
    input_json: str | None
    completed: set[int] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)
    ledger: Ledger = field(default_factory=lambda: Ledger([]))
    inbox: list[Inbound] = field(default_factory=list)
    custom_status: str | None = None
    incarnation: int = 0  # which load of the instance this copy is (see dispatch.Stamp)
    finished: bool = False  # decided Completed, Failed or Terminated (its write may still be in flight)
    broken: bool = False  # a write failed: this copy is stale and is dropped
    suspended: bool = False
    held: list[Event] = field(default_factory=list)  # what arrived while suspended (see suspension.py)
    # The history writer's state: decided episodes not yet written, and where the written history ends.
    pending: list[Commit] = field(default_factory=list)
    writing: bool = False
    idle: threading.Event = field(default_factory=_set_event)
    written_generation: int = 0
    written_rows: int = 0
    written_token: str = ""

    @classmethod
    def from_history(cls, record: InstanceRecord, history: History) -> Live:
        """Rebuild from committed history; a generation that ended in continue-as-new starts the next one."""
        events = history.events
        closing = events[-2] if len(events) >= 2 else None
        if closing is not None and kind_of(closing) is EventType.CONTINUE_AS_NEW:
            first = next(e for e in events if kind_of(e) is EventType.EXECUTION_STARTED)
            live = cls(record, history.generation, events, first.get("Input"))
            live.written_generation, live.written_rows, live.written_token = (
                history.generation,
                history.rows,
                history.token,
            )
            live.restart(closing.get("Result"), dict(first, Input=closing.get("Result")), [])
            return live
        started = next((e for e in events if kind_of(e) is EventType.EXECUTION_STARTED), None)
        live = cls(
            record=_status_from_history(record, events),
            generation=history.generation,
            history=list(events),
            input_json=started.get("Input") if started else record.input,
            completed=completed_ids(events),
            message_ids={e["MessageId"] for e in events if e.get("MessageId")},
            ledger=Ledger(events),
            written_generation=history.generation,
            written_rows=history.rows,
            written_token=history.token,
        )
        live.custom_status = live.record.custom_status
        live.finished = live.record.status.is_terminal
        if not live.finished and suspended_in(events):
            live.suspended = True
            live.record = replace(live.record, status=RuntimeStatus.SUSPENDED)
        return live

    def restart(self, input_json: str | None, started: Event, carried: list[Inbound]) -> None:
        """Begin the next generation (continue-as-new) with ``started`` as its first inbound event."""
        self.generation += 1
        self.history = []
        self.completed = set()
        self.message_ids = set()
        self.ledger = Ledger([])
        self.input_json = input_json
        self.inbox = [(started, None, self.generation), *[(e, m, self.generation) for e, m, _ in carried]]
        self.record = replace(self.record, status=RuntimeStatus.RUNNING, generation=self.generation, input=input_json)


@dataclass(frozen=True)
class Commit:
    """One decided episode on its way to history, with what to do once it is durable."""

    live: Live
    generation: int
    events: list[Event]
    status: RuntimeStatus
    output: str | None
    consumed: list[str]
    at: datetime


def last_custom_status(events: list[Event], fallback: str | None) -> str | None:
    """The custom status the newest episode recorded (on its OrchestratorCompleted event)."""
    for past in reversed(events):
        if kind_of(past) is EventType.ORCHESTRATOR_COMPLETED and "CustomStatus" in past:
            return past["CustomStatus"]
    return fallback


def _status_from_history(record: InstanceRecord, events: list[Event]) -> InstanceRecord:
    """Repair a row whose last status write was lost in a crash: committed history is the truth."""
    record = replace(record, custom_status=last_custom_status(events, record.custom_status))
    for past in reversed(events):
        kind = kind_of(past)
        if kind is EventType.EXECUTION_COMPLETED:
            return replace(record, status=RuntimeStatus(past["OrchestrationStatus"]), output=past.get("Result"))
        if kind is EventType.EXECUTION_TERMINATED:
            return replace(record, status=RuntimeStatus.TERMINATED, output=past.get("Input"))
    if events and record.status is RuntimeStatus.PENDING:
        return replace(record, status=RuntimeStatus.RUNNING)
    return record


def encode(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
