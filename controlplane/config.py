"""Settings: the only place that reads environment variables.

| setting | meaning | default |
|---|---|---|
| ``CONTROLPLANE_STORAGE`` | Table connection string (``UseDevelopmentStorage=true``: Azurite) | AzureWebJobsStorage |
| ``AzureWebJobsStorage__tableServiceUri`` | identity-based Table endpoint (managed identity, no keys) | |
| ``CONTROLPLANE_TABLE_PREFIX`` | prefix of every state table name (letters and digits) | ``cp`` |
| ``CONTROLPLANE_EVENT_SOURCE`` | CloudEvents ``source`` of emitted events | ``/runtime-control-plane`` |
| ``CONTROLPLANE_LOCAL_DIR`` | local host: where workloads, router ports, environments and keys are kept | ``.local`` |
| ``CONTROLPLANE_TASK_HUB`` | local host: the task hub (tests give each host its own) | host.json ``hubName`` |
| ``CONTROLPLANE_IMAGE_CATALOG`` | local host: image -> command catalog | ``examples/image-catalog.yaml`` |
| ``CONTROLPLANE_BUS_MAX_DELIVERIES`` | local bus: the entities' MaxDeliveryCount (then dead-lettered) | ``10`` |
| ``CONTROLPLANE_DESIRED_STATE`` | drift: Git URL or path of the desired-state repository (a plain folder works) | |
| ``CONTROLPLANE_DESIRED_STATE_REF`` | drift: the branch, tag or commit to compare with | ``HEAD`` |
| ``CONTROLPLANE_DESIRED_STATE_PATH`` | drift: the folder of release manifests inside the repository | (root) |
| ``CONTROLPLANE_MONITOR_DEGRADED_SECONDS`` | failure monitor: degraded this long -> roll back | ``60`` |
| ``CONTROLPLANE_MONITOR_HEARTBEAT_SECONDS`` | monitor: a healthy service's check is reported this often | ``300`` |
| ``CONTROLPLANE_LOOP_CONCURRENCY`` | loop ticks: services probed / measured at once | ``64`` |
| ``CONTROLPLANE_LOOP_DEADLINE_SECONDS`` | loop ticks: a probe or metric read still out then is no reading | ``8`` |
| ``CONTROLPLANE_LOOP_SHARD_SIZE`` | loop ticks: past this many services, one activity per this many | ``500`` |
| ``CONTROLPLANE_ENDPOINT_CACHE_SECONDS`` | probes reuse replica endpoints this long (re-resolved on failure) | ``30`` |
| ``CONTROLPLANE_DRIFT_SCHEDULE`` | drift timer (NCRONTAB; read by the Functions host) | every 5 minutes |
| ``CONTROLPLANE_DRIFT_MAX_REMEDIATIONS_PER_RUN`` | drift: findings one execution takes (more: continues as new) | 50 |
| ``CONTROLPLANE_SCALING_SCHEDULE`` | scaling timer (NCRONTAB; read by the Functions host) | every 30 s |
| ``CONTROLPLANE_MONITOR_SCHEDULE`` | failure monitor timer (NCRONTAB; read by the Functions host) | every 10 s |
| ``CONTROLPLANE_RECONCILER_SCHEDULE`` | ending deployments nobody runs any more (NCRONTAB) | every minute |
| ``CONTROLPLANE_RELAY_SCHEDULE`` | publishing events a failed publish left pending (NCRONTAB) | every 30 s |
| ``CONTROLPLANE_EVENT_RETENTION_DAYS`` | days the event log and its audit index keep an event | ``90`` |
| ``CONTROLPLANE_DEPLOYMENT_RETENTION_DAYS`` | days a finished deployment is kept (a few always are) | ``90`` |
| ``CONTROLPLANE_LOOP_HISTORY_RETENTION_DAYS`` | days scaling evaluations are kept (state rows stay) | ``7`` |
| ``CONTROLPLANE_RETENTION_SCHEDULE`` | retention runs (``services/retention.py``; NCRONTAB) | hourly at :47 |
| ``CONTROLPLANE_RETENTION_BUDGET_SECONDS`` | a retention run starts no batch after this; the next goes on | ``480`` |
| ``CONTROLPLANE_NOTIFICATIONS`` | webhooks told of chosen events (JSON list: ``domain/notifications.py``) | |
| ``CONTROLPLANE_NOTIFICATIONS_BACKOFF_SECONDS`` | notifications: first wait between retries of one POST | ``1`` |
| ``CONTROLPLANE_FOUR_EYES`` | prod approvals need someone but the requester (``domain/approvals``) | ``true`` |
| ``CONTROLPLANE_LOCAL_BUS_FAULT_FILE`` | local host, fault tests: while this file exists, local publishing fails | |
| ``APPLICATIONINSIGHTS_CONNECTION_STRING`` | spans, logs and metrics go to Application Insights | (none) |
| ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` | ``Authorization=AAD``: export with the managed identity | |

The Azure adapters' settings are in ``controlplane.config_azure`` (parsed here).

The schedules are ``%NAME%`` expressions in the timer triggers, so the Functions host resolves them from
app settings; ``SCHEDULE_DEFAULTS`` are what ``python -m controlplane up`` and ``infra/`` set when they are absent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from controlplane.config_azure import AzureSettings
from controlplane.domain.approvals import FOUR_EYES_SETTING
from controlplane.domain.notifications import SETTING as NOTIFICATIONS
from controlplane.domain.notifications import InvalidNotifications, NotificationTarget, parse_targets
from controlplane.errors import FieldError, InvalidInput

# The folder of function_app.py: the app's root, in Azure (the deployed package) and in a checkout alike.
APP_ROOT = Path(__file__).resolve().parents[1]

SCHEDULE_DEFAULTS = {
    "CONTROLPLANE_DRIFT_SCHEDULE": "0 */5 * * * *",
    "CONTROLPLANE_SCALING_SCHEDULE": "*/30 * * * * *",
    "CONTROLPLANE_MONITOR_SCHEDULE": "*/10 * * * * *",
    "CONTROLPLANE_RECONCILER_SCHEDULE": "0 * * * * *",
    "CONTROLPLANE_RELAY_SCHEDULE": "*/30 * * * * *",
    # Hourly: at 1,000 services the event log and the processed ids grow by about 100 rows a second, a day of which
    # is more than one run (within the Functions timeout) deletes; an hour's is not.
    "CONTROLPLANE_RETENTION_SCHEDULE": "0 47 * * * *",
}
_TABLE_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,30}$")


class InvalidSettings(InvalidInput):
    what = "settings"


@dataclass(frozen=True)
class Settings:
    storage_connection: str | None
    table_endpoint: str | None
    table_prefix: str
    event_source: str
    bus_max_deliveries: int = 10
    local_dir: str | None = None
    task_hub: str | None = None
    image_catalog: str | None = None
    desired_state: str | None = None
    desired_state_ref: str = "HEAD"
    desired_state_path: str = ""
    monitor_degraded_seconds: float = 60.0
    monitor_heartbeat_seconds: float = 300.0
    loop_concurrency: int = 64
    loop_deadline_seconds: float = 8.0
    loop_shard_size: int = 500
    endpoint_cache_seconds: float = 30.0
    drift_max_remediations_per_run: int = 50
    event_retention_days: int = 90
    deployment_retention_days: int = 90
    loop_history_retention_days: int = 7
    retention_budget_seconds: float = 480.0
    local_bus_fault_file: str | None = None
    app_insights_connection: str | None = None
    app_insights_aad: bool = False
    notifications: tuple[NotificationTarget, ...] = ()
    notification_backoff_seconds: float = 1.0
    four_eyes: bool = True
    azure: AzureSettings = field(default_factory=AzureSettings)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from a mapping of environment variables; InvalidSettings names every bad one."""
        connection = environ.get("CONTROLPLANE_STORAGE") or environ.get("AzureWebJobsStorage") or None
        endpoint = environ.get("AzureWebJobsStorage__tableServiceUri") or None
        prefix = environ.get("CONTROLPLANE_TABLE_PREFIX", "cp")
        errors = []
        if connection is None and endpoint is None:
            errors.append(
                FieldError(
                    "CONTROLPLANE_STORAGE",
                    "set a Table storage connection string (UseDevelopmentStorage=true for Azurite) "
                    "or AzureWebJobsStorage__tableServiceUri for managed identity",
                )
            )
        if not _TABLE_PREFIX.match(prefix):
            errors.append(
                FieldError(
                    "CONTROLPLANE_TABLE_PREFIX",
                    f"1-31 letters or digits, starting with a letter (got {prefix!r})",
                )
            )
        deliveries = _number(environ, "CONTROLPLANE_BUS_MAX_DELIVERIES", "10", int, errors)
        degraded = _number(environ, "CONTROLPLANE_MONITOR_DEGRADED_SECONDS", "60", float, errors)
        heartbeat = _number(environ, "CONTROLPLANE_MONITOR_HEARTBEAT_SECONDS", "300", float, errors)
        retention = _number(environ, "CONTROLPLANE_EVENT_RETENTION_DAYS", "90", int, errors)
        deployment_retention = _number(environ, "CONTROLPLANE_DEPLOYMENT_RETENTION_DAYS", "90", int, errors)
        loop_history_retention = _number(environ, "CONTROLPLANE_LOOP_HISTORY_RETENTION_DAYS", "7", int, errors)
        # Within host.json's functionTimeout (10 minutes), with room for the batch under way.
        retention_budget = _number(environ, "CONTROLPLANE_RETENTION_BUDGET_SECONDS", "480", float, errors)
        if retention_budget == 0:  # a run would delete nothing, and the stores grow for ever
            errors.append(FieldError("CONTROLPLANE_RETENTION_BUDGET_SECONDS", "must be more than 0 (got '0')"))
        concurrency = _number(environ, "CONTROLPLANE_LOOP_CONCURRENCY", "64", int, errors)
        deadline = _number(environ, "CONTROLPLANE_LOOP_DEADLINE_SECONDS", "8", float, errors)
        if deadline == 0:  # no probe would ever answer in time: the monitor would never see a failure
            errors.append(FieldError("CONTROLPLANE_LOOP_DEADLINE_SECONDS", "must be more than 0 (got '0')"))
        shard_size = _number(environ, "CONTROLPLANE_LOOP_SHARD_SIZE", "500", int, errors)
        endpoint_cache = _number(environ, "CONTROLPLANE_ENDPOINT_CACHE_SECONDS", "30", float, errors)
        drift_batch = _number(environ, "CONTROLPLANE_DRIFT_MAX_REMEDIATIONS_PER_RUN", "50", int, errors)
        backoff = _number(environ, "CONTROLPLANE_NOTIFICATIONS_BACKOFF_SECONDS", "1", float, errors)
        notifications = _notifications(environ, errors)
        four_eyes = _switch(environ, FOUR_EYES_SETTING, True, errors)
        azure = AzureSettings.from_environment(environ, errors)
        if errors:
            raise InvalidSettings(errors)
        return cls(
            storage_connection=connection,
            table_endpoint=endpoint,
            table_prefix=prefix,
            event_source=environ.get("CONTROLPLANE_EVENT_SOURCE", "/runtime-control-plane"),
            bus_max_deliveries=deliveries,
            local_dir=environ.get("CONTROLPLANE_LOCAL_DIR") or None,
            task_hub=environ.get("CONTROLPLANE_TASK_HUB") or None,
            image_catalog=environ.get("CONTROLPLANE_IMAGE_CATALOG") or None,
            desired_state=environ.get("CONTROLPLANE_DESIRED_STATE") or None,
            desired_state_ref=environ.get("CONTROLPLANE_DESIRED_STATE_REF") or "HEAD",
            desired_state_path=environ.get("CONTROLPLANE_DESIRED_STATE_PATH", ""),
            monitor_degraded_seconds=degraded,
            monitor_heartbeat_seconds=heartbeat,
            loop_concurrency=concurrency,
            loop_deadline_seconds=deadline,
            loop_shard_size=shard_size,
            endpoint_cache_seconds=endpoint_cache,
            drift_max_remediations_per_run=drift_batch,
            event_retention_days=retention,
            deployment_retention_days=deployment_retention,
            loop_history_retention_days=loop_history_retention,
            retention_budget_seconds=retention_budget,
            local_bus_fault_file=environ.get("CONTROLPLANE_LOCAL_BUS_FAULT_FILE") or None,
            app_insights_connection=environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or None,
            app_insights_aad="Authorization=AAD" in environ.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", ""),
            notifications=notifications,
            notification_backoff_seconds=backoff,
            four_eyes=four_eyes,
            azure=azure,
        )


def _notifications(environ: Mapping[str, str], errors: list[FieldError]) -> tuple[NotificationTarget, ...]:
    """The notification targets; their errors are added to ``errors`` (none of them names a URL)."""
    try:
        return parse_targets(environ.get(NOTIFICATIONS), environ.get)
    except InvalidNotifications as invalid:
        errors.extend(invalid.errors)
        return ()


_Number = TypeVar("_Number", int, float)


def _number(
    environ: Mapping[str, str], name: str, default: str, kind: type[_Number], errors: list[FieldError]
) -> _Number:
    """A positive number setting; a bad value is added to ``errors``."""
    text = environ.get(name, default)
    value: _Number | None
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value < 0 or (kind is int and value < 1):
        errors.append(FieldError(name, f"must be a positive {kind.__name__} (got {text!r})"))
        return kind(default)
    return value


_SWITCH = {"true": True, "1": True, "on": True, "yes": True, "false": False, "0": False, "off": False, "no": False}


def _switch(environ: Mapping[str, str], name: str, default: bool, errors: list[FieldError]) -> bool:
    """An on/off setting (true/false, 1/0, on/off, yes/no, any case); a bad value is added to ``errors``,
    never read as either: a typo must not turn a safety rule off."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    value = _SWITCH.get(text.lower())
    if value is None:
        errors.append(FieldError(name, f"must be true or false (got {text!r})"))
        return default
    return value


def load_settings() -> Settings:
    return Settings.from_environment(os.environ)
