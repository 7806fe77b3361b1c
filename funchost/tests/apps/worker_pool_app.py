"""A function app of sync functions of every trigger kind that hold until the test lets them go, so tests can
count how many run at once (the worker's thread pool, the Durable extension's throttles)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

import azure.durable_functions as df
import azure.functions as func

from funchost.functions import FunctionIndex

WAIT = 20.0  # seconds a test waits for what must happen before it fails


class Gauge:
    """Counts the calls running at once and the most ever seen; holds each call until ``release``."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._released = False
        self.running = 0
        self.most = 0
        self.finished = 0

    def reset(self) -> None:
        with self._changed:
            self._released, self.running, self.most, self.finished = False, 0, 0, 0

    def hold(self) -> None:
        with self._changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._released)
            self.running -= 1
            self.finished += 1
            self._changed.notify_all()

    def release(self) -> None:
        with self._changed:
            self._released = True
            self._changed.notify_all()

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait until ``condition`` holds (checked as calls start and end, and every 10 ms for conditions on other
        state); fail naming ``what`` if it never does (a safeguard, not a measure: WAIT seconds)."""
        deadline = time.monotonic() + WAIT
        with self._changed:
            while not condition():
                assert time.monotonic() < deadline, f"never reached: {what}"
                self._changed.wait(0.01)


gauge = Gauge()
app = df.DFApp()


@app.route(route="slow", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def slow_http(req: func.HttpRequest) -> func.HttpResponse:
    gauge.hold()
    return func.HttpResponse("done")


@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer")
def slow_timer(timer: func.TimerRequest) -> None:
    gauge.hold()


@app.service_bus_topic_trigger(
    arg_name="message", topic_name="events", subscription_name="slow", connection="ServiceBusConnection"
)
def slow_message(message: func.ServiceBusMessage) -> None:
    gauge.hold()


@app.activity_trigger(input_name="value")
def slow_activity(value: int) -> int:
    gauge.hold()
    return value


@app.orchestration_trigger(context_name="context")
def slow_fan_out(context: df.DurableOrchestrationContext):
    """``n`` slow activities at once."""
    count = context.get_input()
    results = yield context.task_all([context.call_activity(slow_activity, n) for n in range(count)])
    return sum(results)


@app.activity_trigger(input_name="value")
async def thread_of_async_activity(value) -> str:
    return threading.current_thread().name


@app.orchestration_trigger(context_name="context")
def async_activity(context: df.DurableOrchestrationContext):
    return (yield context.call_activity(thread_of_async_activity, None))


@app.orchestration_trigger(context_name="context")
def slow_orchestrator(context: df.DurableOrchestrationContext):
    """Holds in its one episode: the orchestrator function itself is slow."""
    gauge.hold()
    return context.instance_id


@functools.cache
def index() -> FunctionIndex:
    """This app's function index, shared by every test: the SDK indexes an app object only once."""
    return FunctionIndex.of_app(app)
