"""From an episode's SDK state to new history: scheduling events, retries and the nondeterminism check.

The orchestrator's actions (the SDK's flat V2/V3 action list, compound actions expanded) must repeat,
in order, the scheduling events the history already holds; a difference is a nondeterministic
orchestrator and fails the instance, as in the Durable Task Framework. Actions beyond the recorded
ones are new work. Task ids come from the SDK's open tasks, so they are exactly the ids its replay
will look for in completion events.

With-retry calls appear once in the action list; their retries are work the host creates when the SDK
opens a "-WithRetry timer" or a "rescheduled task" (a NoOp action) after a failure. Those history
events are marked ``Retry`` and left out of the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.actions.Action import Action
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.actions.CompoundAction import CompoundAction
from azure.durable_functions.models.actions.NoOpAction import NoOpAction
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.RetryOptions import RetryOptions
from azure.durable_functions.models.Task import AtomicTask, RetryAbleTask

from funchost.durable.history import SCHEDULING, Event, EventType, event, kind_of, timestamp

_RECORDED_KIND = {
    ActionType.CALL_ACTIVITY: EventType.TASK_SCHEDULED,
    ActionType.CALL_ACTIVITY_WITH_RETRY: EventType.TASK_SCHEDULED,
    ActionType.CALL_SUB_ORCHESTRATOR: EventType.SUB_ORCHESTRATION_CREATED,
    ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY: EventType.SUB_ORCHESTRATION_CREATED,
    ActionType.CREATE_TIMER: EventType.TIMER_CREATED,
}
_NOT_SCHEDULING = {ActionType.WAIT_FOR_EXTERNAL_EVENT, ActionType.CONTINUE_AS_NEW}
_UNSUPPORTED = {
    ActionType.CALL_ENTITY: "entities",
    ActionType.SIGNAL_ENTITY: "entities",
    ActionType.CALL_HTTP: "call_http",
}


class NonDeterminism(Exception):
    """The orchestrator's actions no longer match its recorded history."""


class Unsupported(Exception):
    """The orchestrator used an API this host does not run."""


@dataclass(frozen=True)
class NewWork:
    """Scheduling events to append (in task-id order) and the continue-as-new input, if any."""

    events: list[Event]
    continue_as_new: tuple[bool, Any] = (False, None)


class Ledger:
    """What an instance's history has scheduled, kept up to date episode by episode.

    ``recorded`` holds the non-retry scheduling events in task-id order: the positions the orchestrator's
    actions must repeat; ``known`` every scheduled task id, retries included.
    """

    def __init__(self, history: list[Event]) -> None:
        self.recorded: list[Event] = []
        self.known: set[int] = set()
        self.record(history)

    def record(self, events: list[Event]) -> None:
        """Take in committed events."""
        scheduling = sorted((e for e in events if kind_of(e) in SCHEDULING), key=lambda e: e["EventId"])
        self.known.update(e["EventId"] for e in scheduling)
        self.recorded.extend(e for e in scheduling if not e.get("Retry"))

    def check_determinism(self, actions: list[Action], done: bool) -> None:
        """Raise NonDeterminism when an action differs from the recorded scheduling event at its position."""
        for position, (action, past) in enumerate(zip(actions, self.recorded, strict=False)):
            expected_kind, name = _RECORDED_KIND[action.action_type], _name_of(action)
            if kind_of(past) != expected_kind or (name is not None and past.get("Name") != name):
                raise NonDeterminism(
                    f"non-deterministic orchestrator: history has {_describe(past)} at position {position} "
                    f"(EventId {past['EventId']}) but the code now schedules {_describe_action(action)}"
                )
        if done and len(actions) < len(self.recorded):
            missing = self.recorded[len(actions)]
            raise NonDeterminism(
                f"non-deterministic orchestrator: it finished without scheduling {_describe(missing)} "
                f"(EventId {missing['EventId']}) that its history records"
            )


def scheduling_actions(context: DurableOrchestrationContext) -> list[Action]:
    """The SDK's actions in scheduling order, compound actions expanded, waits left out."""
    actions: list[Action] = []
    for action in context._action_payload_v2:
        _flatten(action, actions)
    return actions


def _flatten(action: Action, into: list[Action]) -> None:
    if isinstance(action, CompoundAction):
        for child in action.compound_tasks:
            _flatten(child, into)
    elif action.action_type in _UNSUPPORTED:
        raise Unsupported(f"{_UNSUPPORTED[action.action_type]} are not supported by the local host")
    elif action.action_type not in _NOT_SCHEDULING:
        into.append(action)


def new_work(context: DurableOrchestrationContext, ledger: Ledger, now: datetime, done: bool) -> NewWork:
    """The scheduling events this episode adds, after checking the recorded ones still match."""
    actions = scheduling_actions(context)
    ledger.check_determinism(actions, done)
    fresh = actions[len(ledger.recorded) :]
    tasks = _open_atomic_tasks(context)
    events: list[Event] = []
    if fresh:
        by_action = {id(task._get_action()): task for task in tasks}
        for action in fresh:
            task = by_action.get(id(action))
            if task is not None and task.id not in ledger.known:
                events.append(_scheduling_event(action, task.id, now, context.instance_id))
    for task in tasks:
        if isinstance(task._get_action(), NoOpAction) and task.id not in ledger.known:
            events.append(_retry_event(task, now, context.instance_id))
    events.sort(key=lambda e: e["EventId"])
    continuing = context.will_continue_as_new
    return NewWork(events, (continuing, _continue_as_new_input(context) if continuing else None))


def retry_delay(options: RetryOptions, attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` failures: first * backoff^(attempts-1), capped.

    The Python SDK's RetryOptions carry only the first interval and the attempt count, so the backoff
    coefficient is 1 and there is no cap unless a future SDK adds them.
    """
    backoff = getattr(options, "backoff_coefficient", 1.0) or 1.0
    delay_ms = options.first_retry_interval_in_milliseconds * backoff ** (attempts - 1)
    cap = getattr(options, "max_retry_interval_in_milliseconds", None)
    return timedelta(milliseconds=min(delay_ms, cap) if cap else delay_ms)


def sub_instance_id(parent_instance_id: str, task_id: int) -> str:
    """The id of a sub-orchestration started without one: stable across replays and restarts."""
    return f"{parent_instance_id}:{task_id:04d}"


def _open_atomic_tasks(context: DurableOrchestrationContext) -> list[AtomicTask]:
    tasks: list[AtomicTask] = []
    for value in context.open_tasks.values():
        for task in value if isinstance(value, list) else [value]:
            if isinstance(task, AtomicTask) and isinstance(task.id, int) and task.id >= 0:
                tasks.append(task)
    return tasks


def _scheduling_event(action: Action, task_id: int, now: datetime, instance_id: str, **extra: Any) -> Event:
    kind = _RECORDED_KIND[action.action_type]
    if kind is EventType.TIMER_CREATED:
        return event(kind, now, task_id, FireAt=timestamp(action.fire_at), **extra)
    payload = action.to_json()
    if kind is EventType.TASK_SCHEDULED:
        return event(kind, now, task_id, Name=payload["functionName"], Input=payload.get("input"), **extra)
    child = payload.get("instanceId") or sub_instance_id(instance_id, task_id)
    return event(
        kind, now, task_id, Name=payload["functionName"], InstanceId=child, Input=payload.get("input"), **extra
    )


def _retry_event(task: AtomicTask, now: datetime, instance_id: str) -> Event:
    parent = task.parent
    if not isinstance(parent, RetryAbleTask):
        raise Unsupported(f"task {task.id}: a NoOp action outside a retry is not supported")
    if task._get_action().metadata == "-WithRetry timer":
        fire_at = now + retry_delay(parent.retry_options, parent.num_attempts)
        return event(EventType.TIMER_CREATED, now, task.id, FireAt=timestamp(fire_at), Retry=True)
    retried = parent.actions[0] if isinstance(parent.actions, list) else parent.actions
    scheduled = _scheduling_event(retried, task.id, now, instance_id, Retry=True)
    if kind_of(scheduled) is EventType.SUB_ORCHESTRATION_CREATED:
        scheduled["InstanceId"] = sub_instance_id(instance_id, task.id)
    return scheduled


def _continue_as_new_input(context: DurableOrchestrationContext) -> Any:
    for group in context._actions:
        for action in group if isinstance(group, list) else [group]:
            if action.action_type == ActionType.CONTINUE_AS_NEW:
                return action.to_json().get("input")
    return None


def _name_of(action: Action) -> str | None:
    return action.to_json().get("functionName")


def _describe(past: Event) -> str:
    name = past.get("Name")
    return f"{kind_of(past).name}" + (f" {name!r}" if name else "")


def _describe_action(action: Action) -> str:
    name = _name_of(action)
    return f"{ActionType.__name__}.{_action_name(action)}" + (f" {name!r}" if name else "")


def _action_name(action: Action) -> str:
    names = {value: key for key, value in vars(ActionType).items() if key.isupper()}
    return names.get(action.action_type, str(action.action_type))
