"""Timer triggers of the control loops: drift (a singleton orchestration), scaling, and the failure monitor (in
the timer's process, or a singleton orchestration fanned out by shard for a large catalog:
orchestrators/loop_ticks.py); retention has its own module, ``triggers.retention``.

Schedules are app settings (``%CONTROLPLANE_*_SCHEDULE%``, defaults in ``controlplane.config``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from controlplane.services.monitor import LOOP as MONITOR
from controlplane.services.monitor import Restore
from controlplane.services.scaling import LOOP as SCALING
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from orchestrators.drift import DRIFT_ORCHESTRATOR
from orchestrators.drift import INSTANCE_ID as DRIFT_INSTANCE
from orchestrators.loop_ticks import LOOP_TICK_ORCHESTRATOR
from orchestrators.loop_ticks import instance_id as loop_tick_instance
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
@bp.durable_client_input(client_name="client")
async def scaling_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Evaluate every service's scaling policy: here, or fanned out by shard when the catalog is larger."""
    now = datetime.now(UTC)
    plan = await asyncio.to_thread(loops.tick_plan, SCALING, now)
    if plan is not None:
        await start_singleton(client, LOOP_TICK_ORCHESTRATOR, loop_tick_instance(SCALING), plan.to_dict())
        return
    for outcome in await asyncio.to_thread(loops.scaler().tick, now):
        log.info("scaling: %s", outcome)


@bp.timer_trigger(schedule="%CONTROLPLANE_MONITOR_SCHEDULE%", arg_name="timer")
@bp.durable_client_input(client_name="client")
async def failure_monitor_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Probe promoted services (here, or fanned out by shard when the catalog is larger); start the rollback
    deployments the monitor decided on (a fanned-out tick's, from its run's output, at the next firing)."""
    now = datetime.now(UTC)
    await _start_restores(client, await _fanned_out_restores(client))
    plan = await asyncio.to_thread(loops.tick_plan, MONITOR, now)
    if plan is not None:
        await start_singleton(client, LOOP_TICK_ORCHESTRATOR, loop_tick_instance(MONITOR), plan.to_dict())
        return
    await _start_restores(client, await asyncio.to_thread(loops.failure_monitor().tick, now))


async def _fanned_out_restores(client: df.DurableOrchestrationClient) -> list[Restore]:
    """The rollback deployments of the last fanned-out monitor tick, once it has completed."""
    status = await client.get_status(loop_tick_instance(MONITOR))
    if status is None or status.runtime_status is not df.OrchestrationRuntimeStatus.Completed:
        return []
    output = status.output if isinstance(status.output, dict) else {}
    return [Restore.from_dict(restore) for restore in output.get("restores", [])]


async def _start_restores(client: df.DurableOrchestrationClient, restores: list[Restore]) -> None:
    for restore in restores:
        status = await client.get_status(restore.deployment_id)
        if status is not None and status.runtime_status is not None:
            continue  # started already: a tick offers the restore again until its deployment ends
        log.warning("failure monitor: starting rollback deployment %s", restore.deployment_id)
        await client.start_new(DEPLOYMENT_ORCHESTRATOR, restore.deployment_id, restore.start.to_dict())
