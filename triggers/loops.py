"""The control loops as the timer and Service Bus triggers run them, built from the process's services."""

from __future__ import annotations

from datetime import datetime, timedelta

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap import ports
from controlplane.config import Settings
from controlplane.domain import shards
from controlplane.domain.workflow.loop_tick_requests import LoopTickPlan
from controlplane.ports import Compute, EventBus, HealthProbe, Metrics
from controlplane.services.monitor import HEARTBEAT, Monitor
from controlplane.services.scaling import Scaler
from controlplane.services.tick import TickLimits


def scaler(limits: TickLimits | None = None) -> Scaler:
    """The scaling loop over the process's services (its tick's limits from the settings unless given)."""
    wired = ports()
    source = f"{wired.settings.event_source}/scaling"
    limits = limits or tick_limits(wired.settings)
    return scaler_over(wired.store, wired.events, wired.compute, wired.metrics, source, limits)


def failure_monitor(limits: TickLimits | None = None) -> Monitor:
    """The failure monitor over the process's services (its tick's limits from the settings unless given)."""
    wired = ports()
    degraded_for = timedelta(seconds=wired.settings.monitor_degraded_seconds)
    heartbeat = timedelta(seconds=wired.settings.monitor_heartbeat_seconds)
    source = f"{wired.settings.event_source}/monitor"
    limits = limits or tick_limits(wired.settings)
    return monitor_over(wired.store, wired.events, wired.health, source, degraded_for, limits, heartbeat)


def tick_limits(settings: Settings) -> TickLimits:
    """How many services a loop's tick works on at once, and its deadline (``CONTROLPLANE_LOOP_*``)."""
    return TickLimits(settings.loop_concurrency, timedelta(seconds=settings.loop_deadline_seconds))


def tick_plan(loop: str, now: datetime) -> LoopTickPlan | None:
    """``loop``'s tick at ``now`` fanned out in shards of ``CONTROLPLANE_LOOP_SHARD_SIZE`` services, all cut at
    one deadline; None when the catalog fits one shard (the timer then ticks in its own process: a fan-out
    would only add the orchestration's round trips)."""
    wired = ports()
    keys = [(entry.environment, entry.service) for entry in wired.store.catalog.list_catalog()]
    if len(keys) <= wired.settings.loop_shard_size:
        return None
    deadline = now + timedelta(seconds=wired.settings.loop_deadline_seconds)
    return LoopTickPlan(loop, now, deadline, tuple(shards.plan(keys, wired.settings.loop_shard_size)))


def scaler_over(
    store: Stores, bus: EventBus, compute: Compute, metrics: Metrics, source: str, limits: TickLimits | None = None
) -> Scaler:
    """The scaling loop over the stored records it reads and writes (``TickLimits()``'s defaults unless given)."""
    return Scaler(
        catalog=store.catalog,
        deployments=store.deployments,
        claims=store.claims,
        loop_states=store.loop_states,
        processed_events=store.processed_events,
        event_log=store.event_log,
        bus=bus,
        compute=compute,
        metrics=metrics,
        source=source,
        limits=limits or TickLimits(),
    )


def monitor_over(
    store: Stores,
    bus: EventBus,
    health: HealthProbe,
    source: str,
    degraded_for: timedelta,
    limits: TickLimits | None = None,
    heartbeat: timedelta = HEARTBEAT,
) -> Monitor:
    """The failure monitor over the stored records it reads and writes (``TickLimits()``'s defaults unless given)."""
    return Monitor(
        catalog=store.catalog,
        deployments=store.deployments,
        loop_states=store.loop_states,
        quarantine=store.quarantine,
        claims=store.claims,
        event_log=store.event_log,
        bus=bus,
        health=health,
        source=source,
        degraded_for=degraded_for,
        limits=limits or TickLimits(),
        heartbeat=heartbeat,
    )
