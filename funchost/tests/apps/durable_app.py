"""A function app of small orchestrations that exercise every durable API the local host supports."""

from __future__ import annotations

import functools
import json
import threading
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

from funchost.functions import FunctionIndex

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


@app.activity_trigger(input_name="step")
def slow_step(step: dict) -> int:
    """Sleeps, and records its start and finish in the file named by DURABLE_TEST_LOG (crash tests)."""
    import os
    import time

    log = os.environ.get("DURABLE_TEST_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(f"start {step['index']}\n")
    time.sleep(step["seconds"])
    if log:
        with open(log, "a") as handle:
            handle.write(f"finish {step['index']}\n")
    return step["index"]


@app.orchestration_trigger(context_name="context")
def slow_chain(context: df.DurableOrchestrationContext):
    settings = context.get_input()
    done = []
    for index in range(settings["steps"]):
        done.append((yield context.call_activity(slow_step, {"index": index, "seconds": settings["seconds"]})))
    return done


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=context.get_input()))
    return "rested"


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    value = yield context.wait_for_external_event("go")
    return {"got": value}


@app.orchestration_trigger(context_name="context")
def flaky_once(context: df.DurableOrchestrationContext):
    """Calls ``flaky`` without retries: fails while it fails (a rewind re-runs it)."""
    first = yield context.call_activity(add_one, 0)
    return [first, (yield context.call_activity(flaky, context.get_input()))]


@app.orchestration_trigger(context_name="context")
def flaky_parent(context: df.DurableOrchestrationContext):
    """Fails when its ``flaky_once`` sub-orchestration fails."""
    child = yield context.call_sub_orchestrator("flaky_once", context.get_input(), f"{context.instance_id}-child")
    return {"child": child}


@app.orchestration_trigger(context_name="context")
def collector(context: df.DurableOrchestrationContext):
    """Waits for three "item" events and returns them in arrival order."""
    items = []
    for _ in range(3):
        items.append((yield context.wait_for_external_event("item")))
        context.set_custom_status(len(items))
    return items


@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["name"], req.route_params.get("instance_id"), json.loads(body) if body else None
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="rpc-base-url", methods=["GET"])
@app.durable_client_input(client_name="client")
async def rpc_base_url(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """What a function's durable client binding names as rpcBaseUrl (any function with the binding sees it,
    as on Azure): the route sweep's "right secret" case."""
    return func.HttpResponse(client._orchestration_bindings.rpc_base_url)


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    found = await client.get_status(req.route_params["instance_id"], show_history=req.params.get("history") == "1")
    if found.instance_id is None:
        return func.HttpResponse(status_code=404)
    body = {**found.to_json(), "historyEvents": getattr(found, "historyEvents", None)}
    return func.HttpResponse(json.dumps(body, default=str), mimetype="application/json")


@app.route(route="statuses", methods=["GET"])
@app.durable_client_input(client_name="client")
async def statuses(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    wanted = req.params.get("status")
    if wanted:
        found = await client.get_status_by(runtime_status=[df.OrchestrationRuntimeStatus(wanted)])
    else:
        found = await client.get_status_all()
    return func.HttpResponse(json.dumps([s.instance_id for s in found]), mimetype="application/json")


@app.route(route="raise/{instance_id}/{event}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def raise_event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.raise_event(req.route_params["instance_id"], req.route_params["event"], json.loads(req.get_body()))
    return func.HttpResponse(status_code=202)


@app.route(route="terminate/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def terminate(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.terminate(req.route_params["instance_id"], req.params.get("reason", "test"))
    return func.HttpResponse(status_code=202)


@app.route(route="purge/{instance_id}", methods=["DELETE"])
@app.durable_client_input(client_name="client")
async def purge(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    result = await client.purge_instance_history(req.route_params["instance_id"])
    return func.HttpResponse(json.dumps({"deleted": result.instances_deleted}), mimetype="application/json")


@app.route(route="suspend/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def suspend(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.suspend(req.route_params["instance_id"], req.params.get("reason", "test"))
    return func.HttpResponse(status_code=202)


@app.route(route="resume/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def resume(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.resume(req.route_params["instance_id"], req.params.get("reason", "test"))
    return func.HttpResponse(status_code=202)


@app.route(route="rewind/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def rewind(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.rewind(req.route_params["instance_id"], req.params.get("reason", "test"))
    return func.HttpResponse(status_code=202)


@app.route(route="restart/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def restart(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    new_id = req.params.get("new", "true") == "true"
    result = await client.restart(req.route_params["instance_id"], restart_with_new_instance_id=new_id)
    return func.HttpResponse(json.dumps(result), mimetype="application/json")


@app.route(route="purge-by", methods=["DELETE"])
@app.durable_client_input(client_name="client")
async def purge_by(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from datetime import datetime

    statuses = [df.OrchestrationRuntimeStatus(s) for s in req.params.get("status", "").split(",") if s]
    result = await client.purge_instance_history_by(
        datetime.fromisoformat(req.params["from"]), runtime_status=statuses or None
    )
    return func.HttpResponse(json.dumps({"deleted": result.instances_deleted}), mimetype="application/json")


# -- timer and Service Bus triggers (funchost/tests/e2e/test_host_triggers.py) ---------------------------------------


def _append_json_line(setting: str, record: dict) -> None:
    """Append ``record`` as one JSON line to the file named by environment variable ``setting``, if set."""
    import os

    path = os.environ.get(setting)
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


def _timer_record(timer, name: str) -> dict:
    from datetime import UTC, datetime

    kind = type(timer)
    return {
        "timer": name,
        "past_due": timer.past_due,
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "at": datetime.now(UTC).isoformat(),
    }


@app.timer_trigger(schedule="*/2 * * * * *", arg_name="timer", run_on_startup=False)
def tick_every_two_seconds(timer: func.TimerRequest) -> None:
    """Fires more than once a minute, so it is never monitored: no past-due firing after a restart."""
    _append_json_line("TIMER_TEST_LOG", _timer_record(timer, "two_seconds"))


@app.timer_trigger(schedule="0 * * * * *", arg_name="timer", run_on_startup=False)
def tick_every_minute(timer: func.TimerRequest) -> None:
    """Monitored (the default for schedules of a minute or more): fires once, past due, after missed occurrences."""
    _append_json_line("TIMER_TEST_LOG", _timer_record(timer, "minute"))


@app.timer_trigger(schedule="*/2 * * * * *", arg_name="timer", run_on_startup=False)
@app.durable_client_input(client_name="client")
async def start_chain_on_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Starts ``chain`` with input 1 when TIMER_STARTS_ORCHESTRATION names a file; appends the instance id there."""
    import os

    path = os.environ.get("TIMER_STARTS_ORCHESTRATION")
    if not path:
        return
    instance_id = await client.start_new("chain", None, 1)
    with open(path, "a") as handle:
        handle.write(instance_id + "\n")


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="events", subscription_name="e2e", connection="ServiceBusConnection"
)
def on_bus_event(msg: func.ServiceBusMessage) -> None:
    """Records each delivery in the file named by BUS_TEST_LOG; raises when the envelope's data has "fail": true."""
    try:
        envelope = json.loads(msg.get_body())
    except ValueError:
        envelope = None
    envelope = envelope if isinstance(envelope, dict) else {}
    _append_json_line(
        "BUS_TEST_LOG",
        {
            "message_id": msg.message_id,
            "correlation_id": msg.correlation_id,
            "delivery_count": msg.delivery_count,
            "type": envelope.get("type"),
            "subject": msg.subject,
            "content_type": msg.content_type,
        },
    )
    data = envelope.get("data")
    if isinstance(data, dict) and data.get("fail") is True:
        raise RuntimeError(f"failing on purpose (delivery {msg.delivery_count})")


@functools.cache
def index() -> FunctionIndex:
    """This app's function index, shared by every test: the SDK indexes an app object only once."""
    return FunctionIndex.of_app(app)
