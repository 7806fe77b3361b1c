"""The retention timer: one run deletes what every store keeps no longer (``controlplane.services.retention``):
events older than ``CONTROLPLANE_EVENT_RETENTION_DAYS``, processed-event ids past their consumers' duplicate
window, deployments finished more than ``CONTROLPLANE_DEPLOYMENT_RETENTION_DAYS`` ago and scaling evaluations
older than ``CONTROLPLANE_LOOP_HISTORY_RETENTION_DAYS``, within ``CONTROLPLANE_RETENTION_BUDGET_SECONDS``.

It logs one structured line a run (``retention run``: deleted per store, and the stores it left unfinished for the
next run), never a line or an event per deletion. The function keeps its name from when it purged events only.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.services.retention import Budget, Retention, RetentionStores, report, run_retention

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(schedule="%CONTROLPLANE_RETENTION_SCHEDULE%", arg_name="timer")
def event_retention_timer(timer: func.TimerRequest) -> None:
    """Delete what is past its retention; a run that spends its budget leaves the rest to the next."""
    wired = ports()
    settings, store = wired.settings, wired.store
    retention = Retention(
        events=timedelta(days=settings.event_retention_days),
        deployments=timedelta(days=settings.deployment_retention_days),
        loop_history=timedelta(days=settings.loop_history_retention_days),
    )
    stores = RetentionStores(
        store.event_log,
        store.processed_events,
        store.deployment_retention,
        store.catalog,
        store.findings,
        store.loop_states,
    )
    outcomes = run_retention(stores, datetime.now(UTC), retention, Budget(settings.retention_budget_seconds))
    fields = report(outcomes)
    # The fields as the message (readable in any log) and as scalar attributes (custom dimensions in Application
    # Insights, which takes no nested values).
    attributes = {f"retention_deleted_{name}": count for name, count in fields["deleted"].items()}
    attributes["retention_unfinished"] = ",".join(fields["unfinished"])
    level = logging.WARNING if fields["unfinished"] else logging.INFO
    log.log(level, "retention run: %s", json.dumps(fields, sort_keys=True), extra=attributes)
