"""Starting an orchestration that must never run twice at once (the loops' fixed instance ids)."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

log = logging.getLogger(__name__)
IN_FLIGHT = {
    df.OrchestrationRuntimeStatus.Running,
    df.OrchestrationRuntimeStatus.Pending,
    df.OrchestrationRuntimeStatus.ContinuedAsNew,  # between two executions of a run (the drift run continues as new)
}


async def start_singleton(
    client: df.DurableOrchestrationClient, orchestrator: str, instance_id: str, start: dict[str, Any] | None = None
) -> bool:
    """Start ``orchestrator`` as ``instance_id`` (with input ``start``) unless a run of it is in flight; True if
    it started.

    Two callers racing past the status check both call start; the host refuses the second start of a
    running instance, which counts as "in flight" here.
    """
    status = await client.get_status(instance_id)
    if status is not None and status.runtime_status in IN_FLIGHT:
        log.info("%s is %s; not starting another run", instance_id, status.runtime_status.value)
        return False
    try:
        await client.start_new(orchestrator, instance_id, start)
    except Exception as error:  # the SDK raises a bare Exception for a refused start
        log.info("%s: start refused (%s); a run is in flight", instance_id, error)
        return False
    return True
