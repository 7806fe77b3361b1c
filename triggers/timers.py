"""Timer triggers of the control loops: drift (a singleton orchestration), scaling, and the failure monitor
(retention has its own module, ``triggers.retention``).

Schedules are app settings (``%CONTROLPLANE_*_SCHEDULE%``, defaults in ``controlplane.config``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from orchestrators.drift import DRIFT_ORCHESTRATOR
from orchestrators.drift import INSTANCE_ID as DRIFT_INSTANCE
from triggers import loops
from triggers.singleton import start_singleton

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(schedule="%CONTROLPLANE_DRIFT_SCHEDULE%", arg_name="timer")
@bp.durable_client_input(client_name="client")
async def drift_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Start a drift run unless one is in flight."""
    await start_singleton(client, DRIFT_ORCHESTRATOR, DRIFT_INSTANCE)


@bp.timer_trigger(schedule="%CONTROLPLANE_SCALING_SCHEDULE%", arg_name="timer")
def scaling_timer(timer: func.TimerRequest) -> None:
    """Evaluate every service's scaling policy."""
    for outcome in loops.scaler().tick(datetime.now(UTC)):
        log.info("scaling: %s", outcome)


@bp.timer_trigger(schedule="%CONTROLPLANE_MONITOR_SCHEDULE%", arg_name="timer")
@bp.durable_client_input(client_name="client")
async def failure_monitor_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Probe promoted services; start the rollback deployments the monitor decided on."""
    for restore in await asyncio.to_thread(loops.failure_monitor().tick, datetime.now(UTC)):
        status = await client.get_status(restore.deployment_id)
        if status is not None and status.runtime_status is not None:
            continue  # started already: a tick offers the restore again until its deployment ends
        log.warning("failure monitor: starting rollback deployment %s", restore.deployment_id)
        await client.start_new(DEPLOYMENT_ORCHESTRATOR, restore.deployment_id, restore.start.to_dict())
