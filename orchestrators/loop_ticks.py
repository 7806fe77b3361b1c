"""A loop tick fanned out across the Functions host's instances: one activity per shard of the catalog.

    timer -> loop_tick (a singleton per loop) -> loop_tick_shard x shards (in parallel) -> the restores

The monitor and scaling timers tick in their own process while the catalog fits one shard
(``CONTROLPLANE_LOOP_SHARD_SIZE``); past that they start this orchestration under the loop's fixed instance id
unless a run of it is in flight, as the drift timer does, so ticks never overlap. The shards' activities are
work items any instance of the app may take, so the Functions host spreads a large catalog over its instances;
each shard ticks its services concurrently (``services.tick``), every call cut at the tick's one deadline, so a
shard that starts late does less rather than running past the schedule. Events and loop records are the same
as an in-process tick's. The run's output holds the rollback deployments the monitor decided on; the monitor
timer starts them at its next firing (a restore is offered again by every tick until its deployment ends).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from activities.loop_ticks import loop_tick_shard
from controlplane.domain.workflow.loop_tick_requests import LoopTickPlan

bp = df.Blueprint()
LOOP_TICK_ORCHESTRATOR = "loop_tick"


def instance_id(loop: str) -> str:
    """The fixed instance id of ``loop``'s fanned-out tick: at most one run per loop at a time."""
    return f"loop-tick-{loop}"


@bp.function_name(LOOP_TICK_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def loop_tick(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    plan = LoopTickPlan.from_dict(context.get_input())
    context.set_custom_status({"loop": plan.loop, "shards": len(plan.shards)})
    shards = [context.call_activity(loop_tick_shard, request.to_dict()) for request in plan.requests()]
    done: list[dict[str, Any]] = yield context.task_all(shards)
    return {"loop": plan.loop, "shards": len(done), "restores": [r for shard in done for r in shard["restores"]]}
