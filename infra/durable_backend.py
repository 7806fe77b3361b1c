"""The Durable Functions storage provider: Azure Storage (the default) or the Durable Task Scheduler.

With ``durableBackend: durableTaskScheduler`` the stack declares a scheduler and the task hub named as host.json
names it (``state_storage.TASK_HUB``), and gives the app settings that override host.json's provider, as the
Functions host reads ``AzureFunctionsJobHost__<path>`` settings over host.json
(https://learn.microsoft.com/azure/azure-functions/functions-host-json#override-hostjson-values):

| app setting (``AzureFunctionsJobHost__extensions__durableTask__`` shortened to ``…__``) | value |
|---|---|
| ``…__storageProvider__type`` | ``azureManaged`` |
| ``…__storageProvider__connectionStringName`` | ``DURABLE_TASK_SCHEDULER_CONNECTION_STRING`` |
| ``…__hubName`` | the task hub's name (``ControlPlane``) |
| ``DURABLE_TASK_SCHEDULER_CONNECTION_STRING`` | ``Endpoint=<scheduler endpoint>;Authentication=ManagedIdentity`` |

The connection string has no ``ClientID``: the app signs in with its system-assigned identity, the one every
other grant of this stack goes to ("If you use system-assigned identity, omit the ClientID parameter",
https://learn.microsoft.com/azure/durable-task/scheduler/durable-task-scheduler-identity). The hub name is set
from the task hub resource, so the Function App is created only once its hub exists. The identity gets
"Durable Task Data Contributor" on the task hub, not the scheduler (task hub scope is the least-privilege
choice in the same page); the app both starts and runs orchestrations, which the narrower "Durable Task Worker"
does not cover. Non-.NET apps need extension bundle 4.32.0 or later for the ``azureManaged`` provider
(https://learn.microsoft.com/azure/durable-task/scheduler/quickstart-durable-task-scheduler); host.json's
``[4.*, 5.0.0)`` resolves to the newest 4.x in Azure.

SKUs (https://learn.microsoft.com/azure/durable-task/scheduler/durable-task-scheduler-billing): Consumption, pay
per action dispatched, up to 500 actions/s, 30 days of retention; Dedicated, a monthly price per capacity unit
(1-3), 2,000 actions/s and 50 GB per unit, 90 days, high availability with 3 units. The scheduler accepts
every address (``ipAllowlist`` ``0.0.0.0/0``): the Flex app has no fixed outbound address or VNet here, and
Entra ID still authorizes every call, as with the storage account.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import durabletask

from infra.state_storage import TASK_HUB

AZURE_STORAGE = "azureStorage"
DURABLE_TASK_SCHEDULER = "durableTaskScheduler"
BACKENDS = (AZURE_STORAGE, DURABLE_TASK_SCHEDULER)
SKUS = ("Consumption", "Dedicated")
MAX_CAPACITY_UNITS = 3  # Dedicated: up to three capacity units per scheduler

# The Durable extension's name for the Durable Task Scheduler provider (host.json storageProvider.type).
PROVIDER_TYPE = "azureManaged"
CONNECTION_SETTING = "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"
_OVERRIDE = "AzureFunctionsJobHost__extensions__durableTask__"
PROVIDER_TYPE_SETTING = f"{_OVERRIDE}storageProvider__type"
CONNECTION_NAME_SETTING = f"{_OVERRIDE}storageProvider__connectionStringName"
HUB_NAME_SETTING = f"{_OVERRIDE}hubName"


@dataclass(frozen=True)
class SchedulerSpec:
    """A Durable Task Scheduler for the app: ``sku`` Consumption or Dedicated, ``capacity`` units (Dedicated)."""

    sku: str = "Consumption"
    capacity: int = 1


@dataclass(frozen=True)
class DurableTaskScheduler:
    scheduler: durabletask.Scheduler
    task_hub: durabletask.TaskHub
    app_settings: dict[str, pulumi.Input[str]]
    stack_outputs: dict[str, pulumi.Input[str]]


def build_durable_task_scheduler(
    name_prefix: str,
    resource_group: pulumi.Input[str],
    location: str,
    spec: SchedulerSpec,
    parent: pulumi.Resource,
) -> DurableTaskScheduler:
    """The scheduler, its ``ControlPlane`` task hub and the app settings that make the app use them."""
    child = pulumi.ResourceOptions(parent=parent)
    # Consumption takes no capacity; Dedicated is sold in whole capacity units.
    sku = durabletask.SchedulerSkuArgs(name=spec.sku, capacity=spec.capacity if spec.sku == "Dedicated" else None)
    scheduler = durabletask.Scheduler(
        f"{name_prefix}-dts",  # Pulumi adds a random suffix: [a-zA-Z0-9-]{3,64}
        resource_group_name=resource_group,
        location=location,
        properties=durabletask.SchedulerPropertiesArgs(sku=sku, ip_allowlist=["0.0.0.0/0"]),
        opts=child,
    )
    task_hub = durabletask.TaskHub(
        f"{name_prefix}-taskhub",
        resource_group_name=resource_group,
        scheduler_name=scheduler.name,
        task_hub_name=TASK_HUB,
        opts=child,
    )
    endpoint = scheduler.properties.apply(lambda properties: properties.endpoint)
    settings: dict[str, pulumi.Input[str]] = {
        PROVIDER_TYPE_SETTING: PROVIDER_TYPE,
        CONNECTION_NAME_SETTING: CONNECTION_SETTING,
        HUB_NAME_SETTING: task_hub.name,
        CONNECTION_SETTING: pulumi.Output.concat("Endpoint=", endpoint, ";Authentication=ManagedIdentity"),
    }
    outputs: dict[str, pulumi.Input[str]] = {
        "durableTaskSchedulerEndpoint": endpoint,
        "durableTaskHubDashboardUrl": task_hub.properties.apply(lambda properties: properties.dashboard_url),
    }
    return DurableTaskScheduler(scheduler, task_hub, settings, outputs)
