"""host.json ``functionTimeout``: how long any one invocation of any function may run, and what happens past it.

On Azure the WebJobs SDK's ``FunctionExecutor`` (Azure/azure-webjobs-sdk, ``Executors/FunctionExecutor.cs``)
bounds every invocation, whatever its trigger, by the host's ``FunctionTimeout``. Past it, the host logs
``Timeout value of 00:10:00 exceeded by function 'Functions.X' (Id: '<invocation id>'). Initiating
cancellation.``, fails the invocation with a ``FunctionTimeoutException`` whose message is ``Timeout value of
00:10:00 was exceeded by function: Functions.X``, and, the function being out of process (Python),
``ScriptHostExceptionHandler.OnTimeoutExceptionAsync`` (Azure/azure-functions-host) restarts the language
worker process that ran it: ``A function timeout has occurred. Restarting worker process executing
invocationId '<id>'.`` then ``Restart of language worker process(es) completed.`` The trigger sees a failed
invocation: an HTTP client a 500, a Service Bus message is abandoned, a timer firing fails, an activity
fails with the exception's message.

The local host cannot kill the thread a sync Python function runs on, nor restart its own process: it logs
the host's lines, fails the invocation the same way, cancels an async function (the nearest thing to the
restart), and lets a sync function run on in the background, its eventual result or error ignored; it keeps
holding one of the worker pool's threads until it returns (on Azure the restart frees it, and fails every
other invocation that worker was running, which the local host does not do).

Settings (``ScriptJobHostOptionsSetup.ConfigureFunctionTimeout``, Azure/azure-functions-host): unset, 5
minutes on Consumption and 30 minutes on every other plan, Flex Consumption included; ``-1`` (minus one day)
is no timeout except on Consumption; otherwise the value must lie between 1 second and 10 minutes on
Consumption, 1 second and ``TimeSpan.MaxValue`` elsewhere, or the host does not start. This app runs on Flex
Consumption (``infra/function_site.py``), so the local host applies Flex Consumption's rules.

Not applied here: the orchestrator function's own episodes (they run only the SDK's replay), and the front end's
230-second limit on an HTTP response (Azure's load balancer answers the client then, while the function runs on;
"HTTP trigger limits" in the Azure Functions docs).
"""

from __future__ import annotations

import logging
from datetime import timedelta

log = logging.getLogger("funchost.host")

DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)  # DefaultFunctionTimeout: every plan but Consumption
MIN_FUNCTION_TIMEOUT = timedelta(seconds=1)
UNBOUNDED = timedelta(days=-1)  # "-1" as a TimeSpan
TIMESPAN_MAX_VALUE = "10675199.02:48:05.4775807"  # TimeSpan.MaxValue, the bound on every plan but Consumption


class FunctionTimeoutError(Exception):
    """An invocation ran past ``functionTimeout``: the WebJobs SDK's ``FunctionTimeoutException``, in its words."""

    def __init__(self, function: str, timeout: timedelta, invocation_id: str) -> None:
        super().__init__(f"Timeout value of {timespan_text(timeout)} was exceeded by function: Functions.{function}")
        self.function = function
        self.timeout = timeout
        self.invocation_id = invocation_id


def timed_out(function: str, timeout: timedelta, invocation_id: str) -> FunctionTimeoutError:
    """Log what the host logs when an invocation runs past ``timeout`` and return the exception that fails it."""
    log.error(
        "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). Initiating cancellation.",
        timespan_text(timeout),
        function,
        invocation_id,
    )
    log.warning(
        "A function timeout has occurred. The local host cannot restart the worker process executing invocationId "
        "'%s' as Azure does: the invocation has failed; a sync function runs on in the background on a worker "
        "thread and its result is ignored.",
        invocation_id,
    )
    return FunctionTimeoutError(function, timeout, invocation_id)


def timespan_text(value: timedelta) -> str:
    """``value`` as .NET writes a TimeSpan (``"c"`` format): ``[-][d.]hh:mm:ss[.fffffff]``."""
    ticks = (value // timedelta(microseconds=1)) * 10
    sign = "-" if ticks < 0 else ""
    ticks = abs(ticks)
    seconds, fraction = divmod(ticks, 10_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    text = f"{sign}{f'{days}.' if days else ''}{hour:02}:{minute:02}:{second:02}"
    return f"{text}.{fraction:07}" if fraction else text
