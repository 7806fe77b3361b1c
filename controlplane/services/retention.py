"""Event retention: the event log and its audit index keep an event for a configured number of days.

The purge deletes whole UTC days older than the retention (an event is kept at least that long, at most a day
more), in batches so one run stays far inside a function's timeout; what one run leaves, the next deletes.
Events still pending publish are kept until the relay has published them (``EventLog.purge_events``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.ports import EventLog

PURGE_BATCH = 500
MAX_BATCHES = 40  # per run: 20,000 events, a few minutes of deletes on Table storage


@dataclass(frozen=True)
class PurgeOutcome:
    """One purge run: events deleted, and whether every expired day was cleared (False: the next run goes on)."""

    deleted: int
    complete: bool


def purge_expired_events(event_log: EventLog, now: datetime, retention: timedelta) -> PurgeOutcome:
    """Delete the events of the days before ``now - retention``, at most ``MAX_BATCHES`` batches."""
    horizon = now - retention
    deleted = 0
    for _ in range(MAX_BATCHES):
        batch = event_log.purge_events(horizon, PURGE_BATCH)
        deleted += batch
        if batch < PURGE_BATCH:
            return PurgeOutcome(deleted, complete=True)
    return PurgeOutcome(deleted, complete=False)
