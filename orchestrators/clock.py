"""Deterministic step times for orchestrators: the episode's ``current_utc_datetime`` plus a microsecond per
step, so the events of one episode (which share that time) keep their order in the event log."""

from __future__ import annotations

from datetime import datetime, timedelta

import azure.durable_functions as df


class StepClock:
    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self._context = context
        self._tick = 0

    def next(self) -> datetime:
        """A time later than every earlier ``next`` of this orchestration, the same on every replay."""
        self._tick += 1
        return self._context.current_utc_datetime + timedelta(microseconds=self._tick)
