"""An instance as the Durable Functions HTTP API shows it: the status body, its HTTP status code and
the ``historyEvents`` of ``showHistory=true``.

The rules follow the Durable extension: ``HttpApiHandler.HandleGetStatusRequestAsync`` and
``ConvertFrom`` (status codes, ``Retry-After``, timestamps formatted ``ToString("s") + "Z"``) and
``DurableClient.GetDurableOrchestrationStatusAsync`` (the history shape), in
Azure/azure-functions-durable-extension ``src/WebJobs.Extensions.DurableTask/``.
"""

from __future__ import annotations

import json
from typing import Any

from funchost.durable.history import Event, EventType, RuntimeStatus, dtfx_name, kind_of, parse_timestamp
from funchost.durable.store import InstanceRecord

# The extension asks pollers to wait: 5 s on a status query ("some clients will otherwise retry in a tight
# loop"), 10 s on the check-status response of a start.
STATUS_RETRY_AFTER = "5"
START_RETRY_AFTER = "10"
_IN_PROGRESS = frozenset(
    {RuntimeStatus.PENDING, RuntimeStatus.RUNNING, RuntimeStatus.CONTINUED_AS_NEW, RuntimeStatus.SUSPENDED}
)
# Completion -> the scheduling event whose name, time and input the extension folds into it.
_ORIGIN = {
    EventType.TASK_COMPLETED: EventType.TASK_SCHEDULED,
    EventType.TASK_FAILED: EventType.TASK_SCHEDULED,
    EventType.SUB_ORCHESTRATION_COMPLETED: EventType.SUB_ORCHESTRATION_CREATED,
    EventType.SUB_ORCHESTRATION_FAILED: EventType.SUB_ORCHESTRATION_CREATED,
}
_WITH_RESULT = frozenset(
    {EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_COMPLETED, EventType.EXECUTION_COMPLETED}
)
_INTERNAL_KINDS = frozenset({EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED})
_LOCAL_FIELDS = ("MessageId", "Kind", "Retry", "CustomStatus", "EventId", "IsPlayed")  # never on the wire


def status_code(status: RuntimeStatus, error_on_failure: bool) -> int:
    """202 while in progress; 200 when finished, except Failed with ``returnInternalServerErrorOnFailure``.

    The extension answers 500 only for Failed: Terminated is 200 even with the flag."""
    if status in _IN_PROGRESS:
        return 202
    if status is RuntimeStatus.FAILED and error_on_failure:
        return 500
    return 200


def http_time(text: str) -> str:
    """A stored timestamp as the extension prints it: whole seconds, UTC (``2018-02-28T05:18:49Z``)."""
    return parse_timestamp(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_json(record: InstanceRecord, history: list[dict] | None = None, show_input: bool = True) -> dict[str, Any]:
    """An instance in the extension's StatusResponsePayload shape."""
    body: dict[str, Any] = {
        "name": record.name,
        "instanceId": record.instance_id,
        "runtimeStatus": record.status.value,
        "input": decode(record.input) if show_input else None,
        "customStatus": decode(record.custom_status),
        "output": decode(record.output),
        "createdTime": http_time(record.created_time),
        "lastUpdatedTime": http_time(record.last_updated_time),
    }
    if history is not None:
        body["historyEvents"] = history
    return body


def history_view(events: list[Event], show_input: bool, show_output: bool) -> list[dict[str, Any]]:
    """The history as ``showHistory=true`` shows it.

    EventType becomes DTFx's name; OrchestratorStarted/OrchestratorCompleted are left out; a completed or
    failed task (or sub-orchestration) absorbs its scheduling event as ``FunctionName``, ``ScheduledTime``
    (and ``Input``), and the scheduling event is left out; results appear only with ``showHistoryOutput``,
    inputs only with ``showInput``; ``EventId`` and ``IsPlayed`` are dropped. For example
    ``[ExecutionStarted, OrchestratorStarted, TaskScheduled#0, OrchestratorCompleted, OrchestratorStarted,
    TaskCompleted(0), ExecutionCompleted, OrchestratorCompleted]`` shows as
    ``[ExecutionStarted, TaskCompleted{FunctionName, ScheduledTime}, ExecutionCompleted]``.
    """
    shown: list[dict[str, Any] | None] = []
    scheduled: dict[tuple[EventType, int], int] = {}
    for history_event in events:
        kind = kind_of(history_event)
        if kind in _INTERNAL_KINDS:
            shown.append(None)
            continue
        item = {key: value for key, value in history_event.items() if key not in _LOCAL_FIELDS}
        item["EventType"] = dtfx_name(kind)
        if kind in (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_CREATED):
            scheduled[(kind, history_event["EventId"])] = len(shown)
            item.pop("Version", None)
        elif kind in _ORIGIN:
            origin = scheduled.get((_ORIGIN[kind], item.pop("TaskScheduledId", None)))
            if origin is not None:
                source = events[origin]
                item["ScheduledTime"] = source["Timestamp"]
                item["FunctionName"] = source.get("Name")
                if show_input:
                    item["Input"] = source.get("Input")
                shown[origin] = None
        elif kind is EventType.EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name", None)
            for field in ("OrchestrationInstance", "ParentInstance", "Version", "Tags"):
                item.pop(field, None)
        elif kind is EventType.TIMER_FIRED:
            item.pop("TimerId", None)
        if kind in _WITH_RESULT:
            if show_output:
                item["Result"] = decode(item.get("Result"))
            else:
                item.pop("Result", None)
        if not show_input:
            item.pop("Input", None)
        shown.append(item)
    return [item for item in shown if item is not None]


def decode(value: str | None) -> Any:
    """A stored JSON payload as a JSON value; text that is not JSON as itself (a terminate reason)."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value
