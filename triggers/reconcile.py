"""The deployment reconciler as the Functions app runs it: a timer every minute over every deployment, and a
repair of one deployment on the spot for the API (an approve or abort of a deployment nobody runs any more).

The reconciler (controlplane.services.reconciler) reads each orchestration's status through the durable
client; the service runs on a worker thread (it does blocking storage and compute I/O) and asks the event
loop for each status.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap import ports
from controlplane.domain.deployment import Deployment
from controlplane.domain.workflow.orchestration import OrchestrationStatus
from controlplane.ports import Compute, EventBus
from controlplane.services.reconciler import Lookup, Reconciler

bp = df.Blueprint()
log = logging.getLogger(__name__)
_STATUS_TIMEOUT_SECONDS = 30.0


def reconciler() -> Reconciler:
    wired = ports()
    return reconciler_over(wired.store, wired.events, wired.compute, f"{wired.settings.event_source}/reconciler")


def reconciler_over(store: Stores, bus: EventBus, compute: Compute, source: str) -> Reconciler:
    """The reconciler over the stored records it reads and writes."""
    return Reconciler(
        deployments=store.deployments,
        claims=store.claims,
        catalog=store.catalog,
        quarantine=store.quarantine,
        compute=compute,
        event_log=store.event_log,
        bus=bus,
        source=source,
    )


def status_lookup(client: df.DurableOrchestrationClient, loop: asyncio.AbstractEventLoop) -> Lookup:
    """A blocking lookup for a worker thread: each call awaits ``client.get_status`` on ``loop``."""

    def lookup(instance_id: str) -> OrchestrationStatus | None:
        pending = asyncio.run_coroutine_threadsafe(client.get_status(instance_id), loop)
        status = pending.result(timeout=_STATUS_TIMEOUT_SECONDS)
        return OrchestrationStatus.from_json(status.to_json()) if status else None

    return lookup


async def reconcile_deployment(client: df.DurableOrchestrationClient, deployment_id: str) -> Deployment:
    """The deployment, ended first if its orchestration is gone or ended (NotFound if there is none)."""
    lookup = status_lookup(client, asyncio.get_running_loop())
    return await asyncio.to_thread(reconciler().reconcile_one, deployment_id, lookup, datetime.now(UTC))


# Every minute by default (controlplane.config): a stuck deployment holds its services' claims until it runs.
@bp.timer_trigger(schedule="%CONTROLPLANE_RECONCILER_SCHEDULE%", arg_name="timer")
@bp.durable_client_input(client_name="client")
async def deployment_reconciler_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """End every deployment whose orchestration is gone or ended, releasing its services."""
    lookup = status_lookup(client, asyncio.get_running_loop())
    ended = await asyncio.to_thread(reconciler().reconcile, lookup, datetime.now(UTC))
    for deployment in ended:
        log.warning("reconciler: deployment %s ended %s", deployment.id, deployment.state.value)
