"""Running an orchestrator function through the Durable Functions SDK's own replay.

Every episode is a full replay, as the Functions host runs Python orchestrators: it builds the context
JSON the host sends (the whole history, ``upperSchemaVersion`` V2 and ``upperSchemaVersionNew`` V3,
the timer durations) and runs a fresh generator over it through the SDK's ``Orchestrator`` handle.
The Durable extension forces ``extendedSessionsEnabled`` off for non-.NET workers
(``DurableTaskOptions.Validate`` in Azure/azure-functions-durable-extension), so an episode costs
O(history) there too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.orchestrator import Orchestrator

from funchost.durable.history import Event

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
SCHEMA_V2 = 1  # what the Durable extension sends as upperSchemaVersion
SCHEMA_V3 = 2  # ... and as upperSchemaVersionNew


def timespan(duration: timedelta) -> str:
    """A .NET TimeSpan string (``d.hh:mm:ss.fffffff``, 100 ns ticks), as the host sends timer durations."""
    ticks = round(duration.total_seconds() * 10_000_000)
    seconds, fraction = divmod(ticks, 10_000_000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    return f"{days}.{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction:07d}"


@dataclass(frozen=True)
class TimerLimits:
    """The Azure Storage provider's limits: longer timers are split into intervals by the SDK."""

    maximum_short_timer: timedelta = timedelta(days=6)
    long_timer_interval: timedelta = timedelta(days=3)


@dataclass(frozen=True)
class Outcome:
    """What one episode of the orchestrator decided: the SDK's state JSON, parsed."""

    state: dict[str, Any]
    error: str | None

    @property
    def is_done(self) -> bool:
        return bool(self.state.get("isDone"))

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def output(self) -> Any:
        return self.state.get("output")

    @property
    def custom_status(self) -> Any:
        return self.state.get("customStatus")


class OrchestrationReplay:
    """One replay of an orchestrator function over its whole history, driven by the SDK."""

    def __init__(self, handler: Any, instance_id: str, parent_instance_id: str | None, limits: TimerLimits) -> None:
        self._handler = handler
        self._instance_id = instance_id
        self._parent_instance_id = parent_instance_id
        self._limits = limits
        self._orchestrator: Orchestrator | None = None

    @property
    def context(self) -> DurableOrchestrationContext:
        assert self._orchestrator is not None, "the replay has not run yet"
        return self._orchestrator.durable_context

    def context_json(self, history: list[Event], input_json: str | None) -> str:
        """The orchestration trigger payload in the host's shape."""
        return json.dumps(
            {
                "history": history,
                "input": input_json,
                "instanceId": self._instance_id,
                "isReplaying": False,
                "parentInstanceId": self._parent_instance_id,
                "upperSchemaVersion": SCHEMA_V2,
                "upperSchemaVersionNew": SCHEMA_V3,
                "maximumShortTimerDuration": timespan(self._limits.maximum_short_timer),
                "longRunningTimerIntervalDuration": timespan(self._limits.long_timer_interval),
            }
        )

    def replay(self, history: list[Event], input_json: str | None) -> Outcome:
        context = DurableOrchestrationContext.from_json(self.context_json(history, input_json))
        context._input_expected_type = getattr(self._handler, "_df_input_type", None)
        self._orchestrator = Orchestrator(self._handler.orchestrator_function)
        try:
            state_json = self._orchestrator.handle(context)
        except Exception as error:  # the SDK reports orchestrator failures as an exception carrying the state
            text, _, state_json = str(error).partition(OUT_OF_PROC_MARKER)
            state = json.loads(state_json) if state_json else {"isDone": False, "actions": []}
            # The extension reads the error from the state (``OutOfProcOrchestrationShim``), as here.
            return Outcome(state, str(state.get("error") or text))
        return Outcome(json.loads(state_json), None)
