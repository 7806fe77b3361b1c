"""Running an orchestrator function through the Durable Functions SDK's own replay.

Full replay builds the context JSON the Functions host sends (history, ``upperSchemaVersion`` V2 and
``upperSchemaVersionNew`` V3, the timer durations) and runs it through the SDK's ``Orchestrator``
handle. An *extended session* keeps that ``Orchestrator`` (its generator and open tasks) alive after
an episode and later feeds it only the new events, as the Durable extension's
``extendedSessionsEnabled`` does: each step then costs O(new events) instead of O(history).
Both paths produce the same state; ``tests/unit/test_durable_replay.py`` checks it episode by episode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.orchestrator import Orchestrator

from controlplane.local.durable.history import Event

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


class _ParsedEvent(HistoryEvent):
    """A history event for an extended session: the SDK's event, with its timestamp parsed by
    ``datetime.fromisoformat`` (the SDK's general-purpose parser costs about a millisecond an event)."""

    def __init__(self, raw: Event) -> None:
        fields = dict(raw)
        self._event_type = fields.pop("EventType")
        self._event_id = fields.pop("EventId")
        self._is_played = fields.pop("IsPlayed")
        self._timestamp = datetime.fromisoformat(fields.pop("Timestamp").replace("Z", "+00:00"))
        self._is_processed = False
        self.Name = self.InstanceId = self.TaskScheduledId = self.Reason = self.Details = self.Input = None
        for key, value in fields.items():
            setattr(self, key, value)


class OrchestrationSession:
    """One execution of an orchestrator function, driven by the SDK.

    ``replay(history)`` runs the function over a whole history (a fresh generator, as the Functions host
    does on every episode). ``advance(new_events)`` continues the same generator with only the events of
    a new episode; it is valid only after a ``replay`` or ``advance`` of this session.
    """

    def __init__(self, handler: Any, instance_id: str, parent_instance_id: str | None, limits: TimerLimits) -> None:
        self._handler = handler
        self._instance_id = instance_id
        self._parent_instance_id = parent_instance_id
        self._limits = limits
        self._orchestrator: Orchestrator | None = None
        self.finished = False

    @property
    def context(self) -> DurableOrchestrationContext:
        assert self._orchestrator is not None, "the session has not run yet"
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
        return self._run(lambda: self._orchestrator.handle(context))

    def advance(self, new_events: list[Event]) -> Outcome:
        """Feed only the events of a new episode to the live generator.

        The state returned leaves out ``actions``: the SDK would serialize every action since the start
        on each step (O(history) per episode), and the engine reads new actions from the live session's
        action objects instead. Everything else is computed as the SDK's own state serialization does.
        """
        if self._orchestrator is None or self.finished:
            raise RuntimeError("advance needs a live session")
        executor = self._orchestrator.task_orchestration_executor
        context = self.context
        executor._is_processing_new_events = True
        for raw in new_events:
            history_event = _ParsedEvent(raw)
            context._histories.append(history_event)
            executor.process_event(history_event)
            if executor.has_execution_completed:
                break
        output, error = executor.output, executor.exception
        if output is not None:
            try:
                json.dumps(output)
            except (TypeError, ValueError) as problem:
                output, error = None, problem
        state: dict[str, Any] = {"isDone": executor.orchestration_invocation_succeeded and error is None}
        if output is not None:
            state["output"] = output
        if context.custom_status:
            state["customStatus"] = context.custom_status
        if error is not None:
            self.finished = True
            state["error"] = str(error) or str(type(error))
            return Outcome(state, state["error"])
        self.finished = bool(state["isDone"])
        return Outcome(state, None)

    def _run(self, step) -> Outcome:
        try:
            state_json = step()
        except Exception as error:  # the SDK reports orchestrator failures as an exception carrying the state
            message = str(error)
            text, _, state_json = message.partition(OUT_OF_PROC_MARKER)
            self.finished = True
            return Outcome(json.loads(state_json) if state_json else {"isDone": False, "actions": []}, text)
        outcome = Outcome(json.loads(state_json), None)
        self.finished = outcome.is_done
        return outcome
