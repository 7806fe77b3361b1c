"""Waiting inside a rollout activity while watching the deployment: a service's sub-orchestration holds no operator
signals (the release orchestration does), so its activities that wait (a gate between probes, a measurement until
it is due) look at the deployment's state every ``POLL_SECONDS`` and stop as soon as the release is rolling back or
has ended. A point read per poll; the wait itself runs on the event loop, holding no worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from controlplane.domain.deployment import ROLLING_OUT_STATES, DeploymentState
from controlplane.ports import Deployments

POLL_SECONDS = 5.0
CALL_BUDGET = timedelta(minutes=2)  # of one waiting call; far inside host.json's functionTimeout (10 minutes)
ROLLING_OUT = frozenset(ROLLING_OUT_STATES)
MEASURED = ROLLING_OUT | {DeploymentState.PROMOTING}

Sleep = Callable[[float], Awaitable[None]]


async def in_state(deployments: Deployments, deployment_id: str, states: frozenset[DeploymentState]) -> bool:
    """Whether the deployment is in one of ``states`` (read on a thread: the store's clients are sync)."""
    deployment = await asyncio.to_thread(deployments.get_deployment, deployment_id)
    return deployment.state in states


async def wait_until(
    deployments: Deployments,
    deployment_id: str,
    until: datetime,
    now: Callable[[], datetime],
    states: frozenset[DeploymentState] = ROLLING_OUT,
    sleep: Sleep = asyncio.sleep,
) -> bool:
    """Wait until ``until``; False as soon as the deployment leaves ``states`` (then stop: the release is rolling
    back or has ended), True once the time has come."""
    while True:
        if not await in_state(deployments, deployment_id, states):
            return False
        left = (until - now()).total_seconds()
        if left <= 0:
            return True
        await sleep(min(left, POLL_SECONDS))


def local(moment: datetime, scheduled_at: datetime, started: datetime) -> datetime:
    """``moment`` of the orchestration's clock on this activity's clock: the orchestration stamped the request at
    ``scheduled_at`` (its ``current_utc_datetime``), the activity started at ``started``. Durations, not clocks,
    cross the backend: the activity may run on another machine whose clock is off, and a test's engine may run
    its orchestrations' clock ahead."""
    return moment + (started - scheduled_at)
