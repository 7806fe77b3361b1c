"""A function app of small orchestrations that exercise every durable API the local host supports."""

from __future__ import annotations

import threading
from datetime import timedelta

import azure.durable_functions as df

app = df.DFApp()
calls: dict[str, int] = {}
_calls_lock = threading.Lock()


def _count(name: str) -> None:
    with _calls_lock:
        calls[name] = calls.get(name, 0) + 1


@app.activity_trigger(input_name="value")
def add_one(value: int) -> int:
    _count("add_one")
    return value + 1


@app.activity_trigger(input_name="value")
def echo(value):
    return value


@app.activity_trigger(input_name="value")
def flaky(value: dict) -> str:
    """Fails until it has been called ``value["failures"]`` times for ``value["key"]``."""
    key = f"flaky:{value['key']}"
    _count(key)
    if calls[key] <= value["failures"]:
        raise RuntimeError(f"attempt {calls[key]} failed")
    return f"ok after {calls[key]}"


@app.activity_trigger(input_name="value")
def boom(value) -> None:
    raise ValueError("activity exploded")


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    """Sequential: n activities, each adding one."""
    count = context.get_input()
    total = 0
    for _ in range(count):
        total = yield context.call_activity(add_one, total)
    return total


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity(add_one, n) for n in range(count)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=10, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry(flaky, options, context.get_input()))


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity(boom, None)
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def catches(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity(boom, None)
    except Exception as error:
        return f"caught: {'activity exploded' in str(error)}"
    return "no error"


@app.orchestration_trigger(context_name="context")
def timer_then_echo(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    return (yield context.call_activity(echo, "woke"))


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    """Waits for "approve" or times out; reports custom status while waiting."""
    context.set_custom_status({"waiting": "approve"})
    timeout = context.create_timer(context.current_utc_datetime + timedelta(seconds=context.get_input()))
    approved = context.wait_for_external_event("approve")
    winner = yield context.task_any([approved, timeout])
    if winner == approved:
        timeout.cancel()
        context.set_custom_status({"approved": True})
        return {"approved": approved.result}
    return {"approved": False}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    first = yield context.call_sub_orchestrator("chain", 3)
    second = yield context.call_sub_orchestrator("chain", 2, instance_id=f"{context.instance_id}-child")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    """continue_as_new until the input reaches 3; new_uuid is deterministic per replay."""
    value = context.get_input()
    marker = context.new_uuid()
    if value >= 3:
        return {"value": value, "uuid": marker}
    yield context.call_activity(add_one, value)
    context.continue_as_new(value + 1)
