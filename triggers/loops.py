"""The control loops as the timer and Service Bus triggers run them, built from the process's services."""

from __future__ import annotations

from datetime import timedelta

from controlplane.bootstrap.root import services
from controlplane.services.monitor import Monitor
from controlplane.services.scaling import Scaler


def scaler() -> Scaler:
    wired = services()
    store = wired.store
    return Scaler(
        catalog=store.catalog,
        deployments=store.deployments,
        loop_states=store.loop_states,
        processed_events=store.processed_events,
        event_log=store.event_log,
        bus=wired.events,
        compute=wired.compute,
        metrics=wired.metrics,
        source=f"{wired.settings.event_source}/scaling",
    )


def failure_monitor() -> Monitor:
    wired = services()
    degraded_for = timedelta(seconds=wired.settings.monitor_degraded_seconds)
    store = wired.store
    return Monitor(
        catalog=store.catalog,
        deployments=store.deployments,
        loop_states=store.loop_states,
        quarantine=store.quarantine,
        claims=store.claims,
        idempotency_keys=store.idempotency_keys,
        event_log=store.event_log,
        bus=wired.events,
        health=wired.health,
        source=f"{wired.settings.event_source}/monitor",
        degraded_for=degraded_for,
    )
