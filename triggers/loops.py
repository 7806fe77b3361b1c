"""The control loops as the timer and Service Bus triggers run them, built from the process's services."""

from __future__ import annotations

from datetime import timedelta

from controlplane.bootstrap import ports
from controlplane.services.monitor import Monitor
from controlplane.services.scaling import Scaler


def scaler() -> Scaler:
    wired = ports()
    return Scaler(wired.store, wired.events, wired.compute, wired.metrics, f"{wired.settings.event_source}/scaling")


def failure_monitor() -> Monitor:
    wired = ports()
    degraded_for = timedelta(seconds=wired.settings.monitor_degraded_seconds)
    return Monitor(wired.store, wired.events, wired.health, f"{wired.settings.event_source}/monitor", degraded_for)
