"""The control loops as the timer and Service Bus triggers run them, built from the process's services."""

from __future__ import annotations

from datetime import timedelta

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap import ports
from controlplane.ports import Compute, EventBus, HealthProbe, Metrics
from controlplane.services.monitor import Monitor
from controlplane.services.scaling import Scaler


def scaler() -> Scaler:
    wired = ports()
    source = f"{wired.settings.event_source}/scaling"
    return scaler_over(wired.store, wired.events, wired.compute, wired.metrics, source)


def failure_monitor() -> Monitor:
    wired = ports()
    degraded_for = timedelta(seconds=wired.settings.monitor_degraded_seconds)
    source = f"{wired.settings.event_source}/monitor"
    return monitor_over(wired.store, wired.events, wired.health, source, degraded_for)


def scaler_over(store: Stores, bus: EventBus, compute: Compute, metrics: Metrics, source: str) -> Scaler:
    """The scaling loop over the stored records it reads and writes."""
    return Scaler(
        catalog=store.catalog,
        deployments=store.deployments,
        loop_states=store.loop_states,
        processed_events=store.processed_events,
        event_log=store.event_log,
        bus=bus,
        compute=compute,
        metrics=metrics,
        source=source,
    )


def monitor_over(store: Stores, bus: EventBus, health: HealthProbe, source: str, degraded_for: timedelta) -> Monitor:
    """The failure monitor over the stored records it reads and writes."""
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
    )
