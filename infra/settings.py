"""The stack's configuration: Pulumi config values checked into one frozen ``PlatformSettings``.

Every problem is reported at once, each naming the config key and the fix, before a resource is declared:
``environments[1].kind: "containerapps" or "aks" (got "k8s")``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from controlplane.config import SCHEDULE_DEFAULTS
from infra.durable_backend import (
    AZURE_STORAGE,
    BACKENDS,
    DURABLE_TASK_SCHEDULER,
    MAX_CAPACITY_UNITS,
    SKUS,
    SchedulerSpec,
)
from infra.notifications import NotificationTargetConfig, notification_targets

KINDS = ("containerapps", "aks")
# Config key -> app setting; the defaults are the ones the app itself falls back to (controlplane/config.py).
SCHEDULE_KEYS = {
    "driftSchedule": "CONTROLPLANE_DRIFT_SCHEDULE",
    "scalingSchedule": "CONTROLPLANE_SCALING_SCHEDULE",
    "monitorSchedule": "CONTROLPLANE_MONITOR_SCHEDULE",
    "reconcilerSchedule": "CONTROLPLANE_RECONCILER_SCHEDULE",
    "relaySchedule": "CONTROLPLANE_RELAY_SCHEDULE",
    "retentionSchedule": "CONTROLPLANE_RETENTION_SCHEDULE",
}
KEYS = (
    "location",
    "namePrefix",
    "desiredState",
    "desiredStateRef",
    "desiredStatePath",
    "tablePrefix",
    "eventSource",
    "monitorDegradedSeconds",
    *SCHEDULE_KEYS,
    "functionMaximumInstances",
    "functionInstanceMemoryMb",
    "authClientId",
    "authTenantId",
    "durableBackend",
    "durableTaskSchedulerSku",
    "durableTaskSchedulerCapacity",
)
OBJECT_KEYS = (
    "environments",
    "environmentResourceGroups",
    "aksAdminGroupObjectIds",
    "authExcludedPaths",
    "alertEmails",
    "alertWebhooks",
    "notifications",
)
_PREFIX = re.compile(r"^[a-z][a-z0-9]{1,9}$")  # short: storage and vault names add a random suffix
_TABLE_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,30}$")  # as controlplane/config.py
_ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,89}[-\w()]$")
_MEMORY_MB = (512, 2048, 4096)  # Flex Consumption instance sizes
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidConfig(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid stack config:\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class EnvironmentSpec:
    """A runtime environment this stack builds, in a resource group of its own."""

    name: str
    kind: str
    node_vm_size: str = "Standard_D4ds_v5"
    node_count: int = 2
    kubernetes_version: str | None = None


@dataclass(frozen=True)
class PlatformSettings:
    location: str
    desired_state: str
    name_prefix: str = "cp"
    desired_state_ref: str = "HEAD"
    desired_state_path: str = ""
    table_prefix: str = "cp"
    event_source: str = "/runtime-control-plane"
    monitor_degraded_seconds: int = 60
    schedules: Mapping[str, str] = field(default_factory=lambda: dict(SCHEDULE_DEFAULTS))
    environments: tuple[EnvironmentSpec, ...] = ()
    environment_resource_groups: tuple[str, ...] = ()
    aks_admin_group_object_ids: tuple[str, ...] = ()
    function_maximum_instances: int = 40
    function_instance_memory_mb: int = 2048
    auth_client_id: str = ""  # the Entra ID app registration Easy Auth signs callers in with
    auth_tenant_id: str | None = None  # None: the tenant of the identity running the update
    auth_excluded_paths: tuple[str, ...] = ()  # reachable without signing in (Easy Auth excludedPaths)
    alert_emails: tuple[str, ...] = ()
    alert_webhooks: tuple[str, ...] = ()
    notifications: tuple[NotificationTargetConfig, ...] = ()  # the notifier's webhooks (infra/notifications.py)
    # The Durable Functions storage provider (infra/durable_backend.py): None is Azure Storage, host.json's default.
    durable_task_scheduler: SchedulerSpec | None = None


def settings_from_values(values: Mapping[str, Any]) -> PlatformSettings:
    """PlatformSettings from raw config values (missing keys take their defaults); InvalidConfig lists every problem."""
    problems: list[str] = []
    location: str = values.get("location") or ""
    if not location:
        problems.append("location: set `pulumi config set location <region>` (or azure-native:location)")
    desired_state: str = values.get("desiredState") or ""
    if not desired_state:
        problems.append("desiredState: the Git URL or path of the desired-state repository (drift detection)")
    prefix = values.get("namePrefix") or "cp"
    if not _PREFIX.match(prefix):
        problems.append(f"namePrefix: 2-10 lowercase letters or digits, starting with a letter (got {prefix!r})")
    table_prefix = values.get("tablePrefix") or "cp"
    if not _TABLE_PREFIX.match(table_prefix):
        problems.append(f"tablePrefix: 1-31 letters or digits, starting with a letter (got {table_prefix!r})")
    schedules = {setting: values.get(key) or SCHEDULE_DEFAULTS[setting] for key, setting in SCHEDULE_KEYS.items()}
    for key, setting in SCHEDULE_KEYS.items():
        if len(schedules[setting].split()) != 6:
            problems.append(f"{key}: an NCRONTAB expression of 6 fields (got {schedules[setting]!r})")
    environments = _environments(values.get("environments") or [], problems)
    groups = _strings(values, "environmentResourceGroups", problems)
    for index, group in enumerate(groups):
        if not _RESOURCE_GROUP.match(group):
            problems.append(f"environmentResourceGroups[{index}]: a resource group name (got {group!r})")
    memory = _integer(values, "functionInstanceMemoryMb", 2048, problems)
    if memory not in _MEMORY_MB:
        problems.append(f"functionInstanceMemoryMb: one of {', '.join(map(str, _MEMORY_MB))} (got {memory})")
    maximum = _integer(values, "functionMaximumInstances", 40, problems)
    degraded = _integer(values, "monitorDegradedSeconds", 60, problems)
    admins = _strings(values, "aksAdminGroupObjectIds", problems)
    client_id: str = values.get("authClientId") or ""
    if not _GUID.match(client_id):
        problems.append(
            f"authClientId: the application (client) id of the Entra ID app registration, a GUID (got {client_id!r});"
            " see infra/README.md"
        )
    tenant_id = values.get("authTenantId") or None
    if tenant_id is not None and not _GUID.match(tenant_id):
        problems.append(f"authTenantId: a directory (tenant) id, a GUID (got {tenant_id!r})")
    excluded = _strings(values, "authExcludedPaths", problems)
    for index, path in enumerate(excluded):
        if not path.startswith("/") or "?" in path:
            problems.append(f"authExcludedPaths[{index}]: a path starting with '/', without a query (got {path!r})")
    emails = _strings(values, "alertEmails", problems)
    for index, email in enumerate(emails):
        if not _EMAIL.match(email):
            problems.append(f"alertEmails[{index}]: an email address (got {email!r})")
    webhooks = _strings(values, "alertWebhooks", problems)
    for index, url in enumerate(webhooks):
        if not url.startswith("https://"):
            # the value is not echoed: a webhook URL usually embeds its token
            problems.append(f"alertWebhooks[{index}]: an https:// URL")
    notifications = notification_targets(values.get("notifications"), problems)
    scheduler = _durable_backend(values, problems)
    if problems:
        raise InvalidConfig(problems)
    return PlatformSettings(
        location=location,
        desired_state=desired_state,
        name_prefix=prefix,
        desired_state_ref=values.get("desiredStateRef") or "HEAD",
        desired_state_path=values.get("desiredStatePath") or "",
        table_prefix=table_prefix,
        event_source=values.get("eventSource") or "/runtime-control-plane",
        monitor_degraded_seconds=degraded,
        schedules=schedules,
        environments=environments,
        environment_resource_groups=tuple(groups),
        aks_admin_group_object_ids=tuple(admins),
        function_maximum_instances=maximum,
        function_instance_memory_mb=memory,
        auth_client_id=client_id,
        auth_tenant_id=tenant_id,
        auth_excluded_paths=tuple(excluded),
        alert_emails=tuple(emails),
        alert_webhooks=tuple(webhooks),
        notifications=notifications,
        durable_task_scheduler=scheduler,
    )


def read_settings() -> PlatformSettings:
    """The running stack's settings: this project's config, ``location`` falling back to azure-native:location."""
    config = pulumi.Config()
    values: dict[str, Any] = {key: config.get(key) for key in KEYS}
    values.update({key: config.get_object(key) for key in OBJECT_KEYS})
    values["location"] = values["location"] or pulumi.Config("azure-native").get("location")
    return settings_from_values(values)


def _environments(raw: Any, problems: list[str]) -> tuple[EnvironmentSpec, ...]:
    if not isinstance(raw, list):
        problems.append('environments: a list like [{"name": "dev", "kind": "containerapps"}]')
        return ()
    specs: list[EnvironmentSpec] = []
    for index, item in enumerate(raw):
        where = f"environments[{index}]"
        if not isinstance(item, dict):
            problems.append(f'{where}: an object like {{"name": "dev", "kind": "containerapps"}} (got {item!r})')
            continue
        name, kind = str(item.get("name", "")), str(item.get("kind", ""))
        if not _ENVIRONMENT_NAME.match(name):
            problems.append(
                f"{where}.name: 1-20 lowercase letters, digits or '-', starting with a letter (got {name!r})"
            )
        if kind not in KINDS:
            problems.append(f'{where}.kind: "containerapps" or "aks" (got {kind!r})')
        if any(spec.name == name for spec in specs):
            problems.append(f"{where}.name: {name!r} is listed twice")
        count = _integer(item, "nodeCount", 2, problems, where=f"{where}.")
        specs.append(
            EnvironmentSpec(
                name=name,
                kind=kind,
                node_vm_size=str(item.get("nodeVmSize") or "Standard_D4ds_v5"),
                node_count=count,
                kubernetes_version=item.get("kubernetesVersion"),
            )
        )
    return tuple(specs)


def _durable_backend(values: Mapping[str, Any], problems: list[str]) -> SchedulerSpec | None:
    """The scheduler to build when ``durableBackend`` is durableTaskScheduler; None for Azure Storage (the default).
    The SKU keys mean nothing for Azure Storage, so setting them there is refused rather than ignored."""
    backend = values.get("durableBackend") or AZURE_STORAGE
    sku = values.get("durableTaskSchedulerSku") or "Consumption"
    raw_capacity = values.get("durableTaskSchedulerCapacity")
    if backend not in BACKENDS:
        problems.append(f"durableBackend: {' or '.join(map(repr, BACKENDS))} (got {backend!r})")
        return None
    if backend == AZURE_STORAGE:
        for key in ("durableTaskSchedulerSku", "durableTaskSchedulerCapacity"):
            if values.get(key) is not None:
                problems.append(f"{key}: only with durableBackend {DURABLE_TASK_SCHEDULER!r} (got {backend!r})")
        return None
    capacity = _integer(values, "durableTaskSchedulerCapacity", 1, problems)
    if sku not in SKUS:
        problems.append(f"durableTaskSchedulerSku: {' or '.join(map(repr, SKUS))} (got {sku!r})")
    elif sku == "Consumption" and raw_capacity is not None:
        problems.append("durableTaskSchedulerCapacity: capacity units are for the Dedicated SKU only")
    elif capacity > MAX_CAPACITY_UNITS:
        problems.append(f"durableTaskSchedulerCapacity: 1 to {MAX_CAPACITY_UNITS} capacity units (got {capacity})")
    return SchedulerSpec(sku=sku, capacity=capacity)


def _strings(values: Mapping[str, Any], key: str, problems: list[str]) -> list[str]:
    raw = values.get(key) or []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        problems.append(f'{key}: a list of strings like ["a", "b"] (got {raw!r})')
        return []
    return raw


def _integer(values: Mapping[str, Any], key: str, default: int, problems: list[str], where: str = "") -> int:
    raw = values.get(key)
    if raw is None:
        return default
    try:
        number = int(raw)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        problems.append(f"{where}{key}: a positive whole number (got {raw!r})")
        return default
    return number
