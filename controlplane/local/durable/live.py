"""The in-memory state of one instance between episodes: its history, inbox and (extended) session."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace

from controlplane.local.durable.history import Event, EventType, RuntimeStatus, completed_ids, kind_of
from controlplane.local.durable.replay import OrchestrationSession
from controlplane.local.durable.store import History, InstanceRecord

Inbound = tuple[Event, str | None, int | None]  # (event, message id if persisted, generation it targets)


@dataclass
class Live:
    record: InstanceRecord
    generation: int
    episodes: int
    history: list[Event]
    input_json: str | None
    completed: set[int] = field(default_factory=set)
    inbox: list[Inbound] = field(default_factory=list)
    session: OrchestrationSession | None = None
    custom_status: str | None = None
    touched: float = field(default_factory=time.monotonic)

    @classmethod
    def from_history(cls, record: InstanceRecord, history: History) -> Live:
        """Rebuild from committed history; a generation that ended in continue-as-new starts the next one."""
        events = history.events
        closing = events[-2] if len(events) >= 2 else None
        if closing is not None and kind_of(closing) is EventType.CONTINUE_AS_NEW:
            started = next(e for e in events if kind_of(e) is EventType.EXECUTION_STARTED)
            live = cls(record, history.generation, history.episodes, events, started.get("Input"))
            live.restart(closing.get("Result"), dict(started, Input=closing.get("Result")), [])
            return live
        started = next((e for e in events if kind_of(e) is EventType.EXECUTION_STARTED), None)
        live = cls(
            record=_status_from_history(record, events),
            generation=history.generation,
            episodes=history.episodes,
            history=list(events),
            input_json=started.get("Input") if started else record.input,
            completed=completed_ids(events),
            custom_status=record.custom_status,
        )
        return live

    def restart(self, input_json: str | None, started: Event, carried: list[Inbound]) -> None:
        """Begin the next generation (continue-as-new) with ``started`` as its first inbound event."""
        self.generation += 1
        self.episodes = 0
        self.history = []
        self.completed = set()
        self.session = None
        self.input_json = input_json
        self.inbox = [(started, None, self.generation), *[(e, m, self.generation) for e, m, _ in carried]]
        self.record = replace(self.record, status=RuntimeStatus.RUNNING, generation=self.generation, input=input_json)


def _status_from_history(record: InstanceRecord, events: list[Event]) -> InstanceRecord:
    """Repair a row whose last status write was lost in a crash: committed history is the truth."""
    for past in reversed(events):
        kind = kind_of(past)
        if kind is EventType.EXECUTION_COMPLETED:
            return replace(record, status=RuntimeStatus(past["OrchestrationStatus"]), output=past.get("Result"))
        if kind is EventType.EXECUTION_TERMINATED:
            return replace(record, status=RuntimeStatus.TERMINATED, output=past.get("Input"))
    if events and record.status is RuntimeStatus.PENDING:
        return replace(record, status=RuntimeStatus.RUNNING)
    return record


def encode(value) -> str | None:
    return None if value is None else json.dumps(value)
