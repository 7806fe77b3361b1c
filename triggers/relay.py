"""The outbox relay: publishes the events a failed publish left pending in the event log.

Every ``record`` of a trace already retries that trace's pending events first; this timer covers traces
that emit nothing more (a deployment whose terminal event's publish failed).
"""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.services import journal

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(schedule="%CONTROLPLANE_RELAY_SCHEDULE%", arg_name="timer")
def event_relay_timer(timer: func.TimerRequest) -> None:
    """Publish pending events in order per trace; a trace whose publish fails again waits for the next tick."""
    wired = ports()
    outcome = journal.relay(wired.store.event_log, wired.events)
    if outcome.published or outcome.failed_traces:
        log.info(
            "event relay: published %d pending event(s); %d trace(s) still pending",
            outcome.published,
            outcome.failed_traces,
        )
