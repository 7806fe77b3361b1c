"""History events in the JSON shape the Functions host sends the Python SDK (DTFx event names).

Every event carries ``EventType`` (DTFx's number), ``EventId`` (the task id for scheduling events,
-1 otherwise), ``IsPlayed`` and ``Timestamp``; the rest depends on the type. Payloads (``Input``,
``Result``) are JSON strings, as on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

Event = dict[str, Any]


class EventType(IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


class RuntimeStatus(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    TERMINATED = "Terminated"
    SUSPENDED = "Suspended"

    @property
    def is_terminal(self) -> bool:
        return self in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED)


SCHEDULING = frozenset({EventType.TASK_SCHEDULED, EventType.TIMER_CREATED, EventType.SUB_ORCHESTRATION_CREATED})
# Completion event type -> the field naming the scheduling event it completes.
COMPLETIONS = {
    EventType.TASK_COMPLETED: "TaskScheduledId",
    EventType.TASK_FAILED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_COMPLETED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_FAILED: "TaskScheduledId",
    EventType.TIMER_FIRED: "TimerId",
}


def dtfx_name(kind: EventType) -> str:
    """DTFx's name of an event type (``TaskCompleted``, ``SubOrchestrationInstanceCreated``)."""
    if kind.name.startswith("SUB_ORCHESTRATION_"):
        return "SubOrchestrationInstance" + kind.name.rsplit("_", 1)[1].capitalize()
    return "".join(part.capitalize() for part in kind.name.split("_"))


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def event(kind: EventType, at: datetime, event_id: int = -1, **fields: Any) -> Event:
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": timestamp(at), **fields}


def execution_started(
    at: datetime, name: str, input_json: str | None, instance_id: str, execution_id: str, parent: dict | None
) -> Event:
    return event(
        EventType.EXECUTION_STARTED,
        at,
        Name=name,
        Version="",
        Input=input_json,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
    )


def kind_of(history_event: Event) -> EventType:
    return EventType(history_event["EventType"])


def completed_ids(events: list[Event]) -> set[int]:
    """Ids of scheduling events that a completion event has already answered."""
    return {e[COMPLETIONS[kind_of(e)]] for e in events if kind_of(e) in COMPLETIONS}


def scheduled(events: list[Event]) -> dict[int, Event]:
    """Scheduling events by task id."""
    return {e["EventId"]: e for e in events if kind_of(e) in SCHEDULING}


def is_duplicate(history_event: Event, completed: set[int], applied_messages: set[str]) -> bool:
    """Whether an inbound event was already applied (a redelivered message or a re-run activity)."""
    kind = kind_of(history_event)
    if kind in COMPLETIONS:
        return history_event[COMPLETIONS[kind]] in completed
    return history_event.get("MessageId") in applied_messages
