"""Running one activity function as the Python worker does: JSON input decoded, the function run where the
worker runs it (``invoke``: sync on its thread pool, async on its event loop), result encoded, and a failure
reported in the TaskFailed shape the Durable extension gives a Python activity that raised, or that ran past
host.json's ``functionTimeout``."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from funchost.durable.backend_limits import BackendLimits
from funchost.durable.history import Event, EventType, event, kind_of
from funchost.function_timeout import FunctionTimeoutError
from funchost.functions import FunctionEntry

Invoke = Callable[[FunctionEntry, dict[str, Any]], Any]
"""Runs a function with its arguments and returns its result (``WorkerPool.invoke``)."""


def run_activity(entry: FunctionEntry, scheduled: Event, clock: Callable[[], datetime], invoke: Invoke) -> Event:
    """Run the activity a TaskScheduled event names; return its TaskCompleted or TaskFailed event."""
    task_id = scheduled["EventId"]
    try:
        value = ActivityTriggerConverter.decode(
            meta.Datum(scheduled.get("Input") or "null", "json"), trigger_metadata=None
        )
        result = invoke(entry, {entry.trigger_name: value})
        encoded = ActivityTriggerConverter.encode(result, expected_type=None).value
    except FunctionTimeoutError as error:
        reason, details = activity_timeout(scheduled["Name"], error)
        return event(EventType.TASK_FAILED, clock(), TaskScheduledId=task_id, Reason=reason, Details=details)
    except Exception as error:
        reason, details = activity_failure(scheduled["Name"], error)
        return event(EventType.TASK_FAILED, clock(), TaskScheduledId=task_id, Reason=reason, Details=details)
    return event(EventType.TASK_COMPLETED, clock(), TaskScheduledId=task_id, Result=encoded)


def refused_output(done: Event, name: str, backend: BackendLimits, clock: Callable[[], datetime]) -> Event:
    """``done``, or a TaskFailed if the backend refuses the activity's output (``backend_limits.py``): the output
    never reaches the orchestration, which sees the activity fail and may handle it."""
    if kind_of(done) is not EventType.TASK_COMPLETED:
        return done
    try:
        backend.check_payload(f"output of activity '{name}'", done.get("Result"))
    except ValueError as refused:
        reason = f"Activity function '{name}' failed: {refused}"
        details = _serialized("System.InvalidOperationException, System.Private.CoreLib", str(refused))
        task_id = done["TaskScheduledId"]
        return event(EventType.TASK_FAILED, clock(), TaskScheduledId=task_id, Reason=reason, Details=details)
    return done


def activity_failure(name: str, error: BaseException) -> tuple[str, str]:
    """The Reason and Details of the TaskFailed event Azure records when a Python activity raises.

    The worker reports ``"<Type>: <message>"`` (``serialize_exception``, azure-functions-python-worker);
    the host wraps it in an ``RpcException`` whose message is ``"Result: Failure\\nException: <that>\\nStack:
    <trace>"`` (``RpcException.cs``, azure-functions-host); the extension keeps what follows
    ``"\\nException:"`` (a leading space included) and throws ``TaskFailureException($"Activity function
    '{name}' failed: {message}", SerializeCause(exception))`` (``TaskActivityShim.RunAsync`` and
    ``OutOfProcExceptionHelpers``, azure-functions-durable-extension). Details is that .NET exception
    serialized by Newtonsoft.Json with ``$type`` names (``ErrorSerializerSettingsFactory``), on one line;
    DTFx's ``TaskActivityDispatcher`` records both, and the Python SDK raises
    ``Exception(f"{Reason} \\n {Details}")`` in the orchestrator.
    """
    worker_message = f"{type(error).__name__}: {error}"
    stack = "".join(traceback.format_exception(error))
    friendly = f" {worker_message}"
    rpc_message = f"Result: Failure\nException: {worker_message}\nStack: {stack}"
    inner = {
        "$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
        "RemoteStackTrace": stack,
        "RemoteMessage": worker_message,
        "ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
        "Message": rpc_message,
    }
    details = _serialized("System.Exception, System.Private.CoreLib", friendly, inner)
    return f"Activity function '{name}' failed: {friendly}", details


def activity_timeout(name: str, error: FunctionTimeoutError) -> tuple[str, str]:
    """The Reason and Details of the TaskFailed event Azure records when an activity runs past ``functionTimeout``.

    The failure is the host's, not the worker's: ``TaskActivityShim.RunAsync`` (azure-functions-durable-extension)
    strips the ``FunctionInvocationException`` off the ``FunctionTimeoutException`` the WebJobs SDK's
    ``FunctionExecutor`` threw and reports its message as is, with no worker text to extract:
    ``Activity function 'X' failed: Timeout value of 00:10:00 was exceeded by function: Functions.X``. Details is
    that exception serialized as in ``activity_failure``; its own serialized fields are not reproduced.
    """
    timeout = "Microsoft.Azure.WebJobs.Host.FunctionTimeoutException, Microsoft.Azure.WebJobs.Host"
    return f"Activity function '{name}' failed: {error}", _serialized(timeout, str(error))


def _serialized(type_name: str, message: str, inner: dict[str, Any] | None = None) -> str:
    """A .NET exception (``type_name``: "class, assembly") as Newtonsoft.Json serializes it with ``$type``
    names, on one line."""
    details = {
        "$type": type_name,
        "ClassName": type_name.split(",")[0],
        "Message": message,
        "Data": None,
        "InnerException": inner,
        "HelpURL": None,
        "StackTraceString": None,
        "RemoteStackTraceString": None,
        "RemoteStackIndex": 0,
        "ExceptionMethod": None,
        "HResult": -2146233088,
        "Source": None,
    }
    return json.dumps(details, separators=(",", ":"), ensure_ascii=False)
