"""Deciding one episode: run the orchestrator (extended session or full replay) and turn what it did
into the new history events and the instance's next status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controlplane.local.durable.history import Event, EventType, RuntimeStatus, event, parse_timestamp
from controlplane.local.durable.live import Live, encode
from controlplane.local.durable.replay import OrchestrationSession, Outcome, TimerLimits
from controlplane.local.durable.work import Ledger, NewWork, NonDeterminism, Unsupported, new_work
from controlplane.local.functions import ORCHESTRATION, FunctionIndex


@dataclass(frozen=True)
class Decision:
    status: RuntimeStatus
    output: str | None
    work: NewWork


class EpisodeRunner:
    def __init__(
        self, index: FunctionIndex, limits: TimerLimits, extended: bool, verify: bool, stats: dict[str, int]
    ) -> None:
        self._index = index
        self._limits = limits
        self._extended = extended
        self._verify = verify
        self._stats = stats

    def decide(self, live: Live, episode: list[Event], now: datetime) -> Decision:
        """Run the orchestrator over ``episode`` (OrchestratorStarted + inbound events) and decide."""
        try:
            outcome, session, advanced = self._run(live, episode)
            work = NewWork([]) if outcome.failed else new_work(session.context, live.ledger, now, outcome.is_done)
            if self._verify and advanced:
                self._verify_against_replay(live, episode, outcome, work)
        except (NonDeterminism, Unsupported) as error:
            live.session = None
            return Decision(RuntimeStatus.FAILED, str(error), NewWork([]))
        if outcome.failed:
            return Decision(RuntimeStatus.FAILED, outcome.error, work)
        live.custom_status = encode(outcome.custom_status)
        if work.continue_as_new[0]:
            return Decision(RuntimeStatus.CONTINUED_AS_NEW, None, work)
        if outcome.is_done:
            return Decision(RuntimeStatus.COMPLETED, encode(outcome.output), work)
        return Decision(RuntimeStatus.RUNNING, None, work)

    def _run(self, live: Live, episode: list[Event]) -> tuple[Outcome, OrchestrationSession, bool]:
        """Run the episode on the live session when there is one, else replay in full; say which."""
        if self._extended and live.session is not None and not live.session.finished:
            self._stats["session_steps"] += 1
            return live.session.advance(episode), live.session, True
        session = self._new_session(live)
        live.ledger.forget_session()
        outcome = session.replay(live.history + episode, live.input_json)
        self._stats["full_replays"] += 1
        live.session = session if self._extended else None
        return outcome, session, False

    def _verify_against_replay(self, live: Live, episode: list[Event], outcome: Outcome, work: NewWork) -> None:
        """Tests: the extended session must decide exactly what a full replay of the same history decides."""
        fresh = self._new_session(live)
        expected = fresh.replay(live.history + episode, live.input_json)
        now = parse_timestamp(episode[0]["Timestamp"])
        ledger = Ledger(live.history)
        theirs = NewWork([]) if expected.failed else new_work(fresh.context, ledger, now, expected.is_done)
        replayed = {key: value for key, value in expected.state.items() if key not in ("actions", "schemaVersion")}
        if (replayed, expected.error) != (outcome.state, outcome.error) or work != theirs:
            raise AssertionError(
                f"extended session diverged from full replay for {live.record.instance_id}: "
                f"{outcome.state} / {work} vs {expected.state} / {theirs}"
            )

    def _new_session(self, live: Live) -> OrchestrationSession:
        entry = self._index.get(live.record.name, ORCHESTRATION)
        return OrchestrationSession(
            entry.handler, live.record.instance_id, live.record.parent_instance_id, self._limits
        )


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
