"""The storage account behind the app: the host, the durable task hub, the state tables, the Flex package.

Shared keys are off: the Functions host, the Durable Task extension and the stored records all connect with
the app's managed identity (``AzureWebJobsStorage__accountName`` / ``__tableServiceUri``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage

# controlplane/adapters/storage/stores.py TABLES, created there too (create_tables); pinned by the infra tests.
STATE_TABLES = (
    "Deployments",
    "DeploymentIndex",
    "DeploymentServiceIndex",
    "ListingVersions",
    "Catalog",
    "Findings",
    "FindingIndex",
    "LoopState",
    "Quarantine",
    "ProcessedEvents",
    "ServiceClaims",
    "EventLog",
    "EventOutbox",
    "EventAudit",
)
# host.json extensions.durableTask.hubName; the extension adds its queues, lease blobs and any other table.
TASK_HUB = "ControlPlane"
TASK_HUB_TABLES = (f"{TASK_HUB}Instances", f"{TASK_HUB}History")
DEPLOYMENT_CONTAINER = "app-package"


@dataclass(frozen=True)
class StateStorage:
    account: storage.StorageAccount
    table_endpoint: pulumi.Output[str]
    deployment_container_url: pulumi.Output[str]


def build_state_storage(
    name_prefix: str,
    resource_group: pulumi.Input[str],
    location: str,
    table_prefix: str,
    parent: pulumi.Resource,
    task_hub_tables: bool = True,
) -> StateStorage:
    """The account, its state tables, the package container; the task hub tables only when ``task_hub_tables``
    (Azure Storage is the Durable backend; the Durable Task Scheduler keeps its state itself)."""
    child = pulumi.ResourceOptions(parent=parent)
    account = storage.StorageAccount(
        f"{name_prefix}state",  # storage names are lowercase letters and digits; Pulumi adds a random suffix
        resource_group_name=resource_group,
        location=location,
        kind="StorageV2",
        sku=storage.SkuArgs(name="Standard_LRS"),
        access_tier=storage.AccessTier.HOT,
        allow_blob_public_access=False,
        allow_shared_key_access=False,  # identity only: no account key or SAS can reach the data
        default_to_o_auth_authentication=True,
        allow_cross_tenant_replication=False,
        enable_https_traffic_only=True,
        minimum_tls_version="TLS1_2",
        opts=child,
    )
    hub_tables = TASK_HUB_TABLES if task_hub_tables else ()
    for table in (*(f"{table_prefix}{table}" for table in STATE_TABLES), *hub_tables):
        storage.Table(
            f"{name_prefix}-table-{table}",
            resource_group_name=resource_group,
            account_name=account.name,
            table_name=table,
            opts=child,
        )
    container = storage.BlobContainer(
        f"{name_prefix}-{DEPLOYMENT_CONTAINER}",
        resource_group_name=resource_group,
        account_name=account.name,
        container_name=DEPLOYMENT_CONTAINER,
        public_access=storage.PublicAccess.NONE,
        opts=child,
    )
    endpoints = account.primary_endpoints
    return StateStorage(
        account=account,
        table_endpoint=endpoints.apply(lambda e: e.table),
        # Built from the container's own output, so the Function App waits for the container to exist.
        deployment_container_url=pulumi.Output.concat(
            endpoints.apply(lambda e: e.blob.rstrip("/")), "/", container.name
        ),
    )
