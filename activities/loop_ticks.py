"""The activity of a fanned-out loop tick: one shard of the catalog, ticked as the timer ticks a small one."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity
from controlplane.bootstrap import ports
from controlplane.domain.workflow.loop_tick_requests import ShardRequest
from controlplane.services.monitor import LOOP as MONITOR
from controlplane.services.tick import TickLimits
from triggers import loops

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.activity_trigger(input_name="request")
@traced_activity
def loop_tick_shard(request: dict) -> dict[str, Any]:
    """The monitor's or the scaling loop's tick over one shard, its calls cut at the tick's deadline (however late
    the activity started); the rollback deployments the monitor decided on, for the timer to start."""
    shard = ShardRequest.from_dict(request)
    limits = _limits(shard.deadline)
    if shard.loop == MONITOR:
        restores = loops.failure_monitor(limits).tick(shard.at, shard.shard)
        return {"restores": [restore.to_dict() for restore in restores]}
    for outcome in loops.scaler(limits).tick(shard.at, shard.shard):
        log.info("scaling: %s", outcome)
    return {"restores": []}


def _limits(deadline: datetime) -> TickLimits:
    """The settings' limits with what is left of the tick's deadline (none: no call is made)."""
    left = max(deadline - datetime.now(UTC), timedelta(0))
    return replace(loops.tick_limits(ports().settings), deadline=left)
