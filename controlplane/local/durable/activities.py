"""Running one activity function as the Python worker does: JSON input decoded, result encoded."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from datetime import datetime

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from controlplane.local.durable.history import Event, EventType, event
from controlplane.local.functions import FunctionEntry


def run_activity(entry: FunctionEntry, scheduled: Event, clock: Callable[[], datetime]) -> Event:
    """Run the activity a TaskScheduled event names; return its TaskCompleted or TaskFailed event."""
    task_id = scheduled["EventId"]
    try:
        value = ActivityTriggerConverter.decode(
            meta.Datum(scheduled.get("Input") or "null", "json"), trigger_metadata=None
        )
        result = entry.handler(**{entry.trigger_name: value})
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        encoded = ActivityTriggerConverter.encode(result, expected_type=None).value
    except Exception as error:
        return event(
            EventType.TASK_FAILED,
            clock(),
            TaskScheduledId=task_id,
            Reason=f"{type(error).__name__}: {error}",
            Details="".join(traceback.format_exception(error)),
        )
    return event(EventType.TASK_COMPLETED, clock(), TaskScheduledId=task_id, Result=encoded)
