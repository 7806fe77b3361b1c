"""The retention timer: deletes events older than ``CONTROLPLANE_EVENT_RETENTION_DAYS`` from the event log and
its audit index (``controlplane.services.retention``). It logs a count, never an event per deletion."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.services.retention import purge_expired_events

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(schedule="%CONTROLPLANE_RETENTION_SCHEDULE%", arg_name="timer")
def event_retention_timer(timer: func.TimerRequest) -> None:
    """Delete the expired days' events; a run that stops at its batch limit leaves the rest to the next."""
    wired = ports()
    days = wired.settings.event_retention_days
    outcome = purge_expired_events(wired.store.event_log, datetime.now(UTC), timedelta(days=days))
    log.info("event retention (%d days): deleted %d expired event(s)", days, outcome.deleted)
    if not outcome.complete:
        log.warning("event retention: more expired events remain; the next run deletes them")
