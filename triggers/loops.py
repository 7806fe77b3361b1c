"""The control loops as the timer and Service Bus triggers run them, built from the process's services."""

from __future__ import annotations

from datetime import timedelta

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap import ports
from controlplane.config import Settings
from controlplane.ports import Compute, EventBus, HealthProbe, Metrics
from controlplane.services.monitor import Monitor
from controlplane.services.scaling import Scaler
from controlplane.services.tick import TickLimits


def scaler() -> Scaler:
    wired = ports()
    source = f"{wired.settings.event_source}/scaling"
    return scaler_over(wired.store, wired.events, wired.compute, wired.metrics, source, tick_limits(wired.settings))


def failure_monitor() -> Monitor:
    wired = ports()
    degraded_for = timedelta(seconds=wired.settings.monitor_degraded_seconds)
    source = f"{wired.settings.event_source}/monitor"
    return monitor_over(wired.store, wired.events, wired.health, source, degraded_for, tick_limits(wired.settings))


def tick_limits(settings: Settings) -> TickLimits:
    """How many services a loop's tick works on at once, and its deadline (``CONTROLPLANE_LOOP_*``)."""
    return TickLimits(settings.loop_concurrency, timedelta(seconds=settings.loop_deadline_seconds))


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
    )
