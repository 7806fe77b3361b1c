"""Deciding one episode: replay the orchestrator over its whole history, as the Functions host does for
Python, and turn what it did into the new history events and the instance's next status."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funchost.durable.backend_limits import AZURE_STORAGE_LIMITS, BackendLimits
from funchost.durable.history import Event, EventType, RuntimeStatus, event
from funchost.durable.live import Live, encode
from funchost.durable.replay import OrchestrationReplay, TimerLimits
from funchost.durable.store import InstanceRecord
from funchost.durable.work import NewWork, NonDeterminism, Unsupported, new_work
from funchost.functions import ORCHESTRATION, FunctionIndex


@dataclass(frozen=True)
class Decision:
    status: RuntimeStatus
    output: str | None
    work: NewWork


@dataclass(frozen=True)
class EpisodeReport:
    """One decided episode, as the engine's optional observer receives it (benchmarks, diagnostics).

    ``replayed`` is how many history events the orchestrator's replay walked: the history before the episode
    plus its OrchestratorStarted and inbound events (0 when no replay ran: a terminate, or a suspended
    instance). ``events`` is the episode as it is appended to history: OrchestratorStarted, the inbound
    events, the new scheduling events and the closing events. A decided episode whose write fails is decided
    again after the reload, and reported again: that replay is real work too.
    """

    instance: InstanceRecord
    generation: int
    replayed: int
    events: tuple[Event, ...]


class EpisodeRunner:
    def __init__(
        self,
        index: FunctionIndex,
        limits: TimerLimits,
        stats: dict[str, int],
        backend: BackendLimits = AZURE_STORAGE_LIMITS,
    ) -> None:
        self._index = index
        self._limits = limits
        self._stats = stats
        self._backend = backend

    def decide(self, live: Live, episode: list[Event], now: datetime) -> Decision:
        """Replay the orchestrator over its history plus ``episode`` (OrchestratorStarted + inbound events)."""
        record = live.record
        name = record.name
        handler = self._index.get(name, ORCHESTRATION).handler
        replay = OrchestrationReplay(handler, record.instance_id, record.parent_instance_id, self._limits)
        outcome = replay.replay(live.history + episode, live.input_json)
        self._stats["replays"] += 1
        try:
            check_custom_status(outcome.custom_status)
        except ValueError as error:  # the extension sets the status before it looks at actions or errors
            return Decision(RuntimeStatus.FAILED, orchestrator_failure(name, str(error)), NewWork([]))
        live.custom_status = encode(outcome.custom_status)
        try:
            work = NewWork([]) if outcome.failed else new_work(replay.context, live.ledger, now, outcome.is_done)
        except (NonDeterminism, Unsupported) as error:
            return Decision(RuntimeStatus.FAILED, str(error), NewWork([]))
        if outcome.failed:
            return Decision(RuntimeStatus.FAILED, orchestrator_failure(name, outcome.error), work)
        try:  # what the backend refuses fails the orchestration, and nothing it asked for runs
            continued = work.continue_as_new[1] if work.continue_as_new[0] else None
            continued_json = continued if isinstance(continued, str | None) else encode(continued)
            output = encode(outcome.output) if outcome.is_done else None
            self._backend.check_episode(work.events, output, continued_json)
        except ValueError as refused:
            return Decision(RuntimeStatus.FAILED, orchestrator_failure(name, str(refused)), NewWork([]))
        if work.continue_as_new[0]:
            return Decision(RuntimeStatus.CONTINUED_AS_NEW, None, work)
        if outcome.is_done:
            return Decision(RuntimeStatus.COMPLETED, encode(outcome.output), work)
        return Decision(RuntimeStatus.RUNNING, None, work)


MAX_CUSTOM_STATUS_KB = 16


def check_custom_status(value: Any) -> None:
    """Raise ValueError when a custom status is over 16 KB, as ``SetCustomStatus`` does on Azure.

    The extension serializes the status compactly (Newtonsoft.Json, non-ASCII kept) and refuses it when
    ``(int)(UTF-16 bytes / 1024.0) > 16`` (``MessagePayloadDataConverter.Serialize`` with
    ``MaxCustomStatusPayloadSizeInKB = 16`` in ``DurableOrchestrationContext.SetCustomStatus``,
    Azure/azure-functions-durable-extension): 17,407 bytes pass, 17,408 fail.
    """
    if value is None:
        return
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    size_kb = len(compact.encode("utf-16-le")) // 1024
    if size_kb > MAX_CUSTOM_STATUS_KB:
        raise ValueError(
            f"The UTF-16 size of the JSON-serialized payload must not exceed {MAX_CUSTOM_STATUS_KB:,} KB. "
            f"The current payload size is {size_kb:,} KB."
        )


def orchestrator_failure(name: str, error: str | None) -> str:
    """A failed orchestration's output as the Durable extension writes it for an out-of-process
    orchestrator: ``OutOfProcOrchestrationShim.ScheduleDurableTaskEvents`` throws
    ``OrchestrationFailureException($"Orchestrator function '{Name}' failed: {execution.Error}")`` and
    DTFx's ``TaskOrchestrationContext.FailOrchestration`` records its message as the result."""
    return f"Orchestrator function '{name}' failed: {error}"


def closing_events(decision: Decision, now: datetime, custom_status: str | None) -> list[Event]:
    """The events that end an episode: the execution's end, if it ended, and OrchestratorCompleted
    (which records the custom status, so it survives a restart)."""
    closing: list[Event] = []
    if decision.status is RuntimeStatus.CONTINUED_AS_NEW:
        closing.append(event(EventType.CONTINUE_AS_NEW, now, Result=decision.work.continue_as_new[1]))
    elif decision.status in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED):
        closing.append(
            event(EventType.EXECUTION_COMPLETED, now, OrchestrationStatus=decision.status.value, Result=decision.output)
        )
    completed = event(EventType.ORCHESTRATOR_COMPLETED, now)
    if custom_status is not None:
        completed["CustomStatus"] = custom_status
    closing.append(completed)
    return closing
