"""Built-in Azure roles the control plane's identity is granted, and the one helper that grants them.

Every grant names its role, its scope and why the app needs it (the ``description`` of the assignment in
Azure). ``check_scope`` refuses the grants least privilege rules out, before anything reaches Azure:

| role                       | scope                                        | verdict                               |
|----------------------------|----------------------------------------------|---------------------------------------|
| any                        | ``/``, ``/providers/Microsoft.Management/…`` | refused: tenant or management group   |
| any                        | ``/subscriptions/<id>``                      | refused: never subscription-wide      |
| Owner, User Access Admin…  | anywhere                                     | refused: the app never grants roles   |
| Contributor                | ``/subscriptions/<id>/resourceGroups/<rg>``  | allowed: a target environment group   |
| Contributor                | ``…/providers/<type>/<name>`` (one resource) | refused: whole environment groups only |
| any other                  | a resource group or a resource               | allowed                               |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization


@dataclass(frozen=True)
class Role:
    name: str
    guid: str


# Send envelopes to the `events` topic (the EventBus port).
SERVICE_BUS_DATA_SENDER = Role("Azure Service Bus Data Sender", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39")
# Receive from the topic's subscriptions (the Service Bus triggers: `scaling`).
SERVICE_BUS_DATA_RECEIVER = Role("Azure Service Bus Data Receiver", "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0")
# State tables (the stored records) and the durable task hub's Instances/History tables.
STORAGE_TABLE_DATA_CONTRIBUTOR = Role("Storage Table Data Contributor", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3")
# The durable task hub's control and work-item queues.
STORAGE_QUEUE_DATA_CONTRIBUTOR = Role("Storage Queue Data Contributor", "974c5e8b-45b9-4653-ba55-5f855dd0fb88")
# The task hub's lease and large-message blobs, the host's lock/secret blobs and the Flex deployment package.
STORAGE_BLOB_DATA_CONTRIBUTOR = Role("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe")
# Read logs and metrics (the Metrics port) without any write access.
MONITORING_READER = Role("Monitoring Reader", "43d0d8ad-25c7-4714-9337-8ba259a9fe05")
# Send the app's own telemetry to Application Insights once local (key) auth is off.
MONITORING_METRICS_PUBLISHER = Role("Monitoring Metrics Publisher", "3913510d-42f4-4e42-8a64-420c390055eb")
# Read secret values for SecretBinding; cannot list keys, manage the vault or change access.
KEY_VAULT_SECRETS_USER = Role("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6")
# Kubernetes API access on an AKS environment (Azure RBAC for Kubernetes): Contributor on its group gives
# no data-plane rights, and controlplane/adapters/azure/aks/credentials.py rolls out through the API server.
AKS_RBAC_WRITER = Role("Azure Kubernetes Service RBAC Writer", "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb")
# Start, run, query and purge orchestrations in the Durable Task Scheduler's task hub (durableBackend
# durableTaskScheduler): https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#durable-task-data-contributor
DURABLE_TASK_DATA_CONTRIBUTOR = Role("Durable Task Data Contributor", "0ad04412-c4d5-4796-b79c-f76d14c8d402")
# Create and change environments and workloads (Provisioner, Compute ports); only on environment groups.
CONTRIBUTOR = Role("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c")

# Roles that can grant access to others: the app never holds them, at any scope.
OWNER = Role("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
USER_ACCESS_ADMINISTRATOR = Role("User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9")
RBAC_ADMINISTRATOR = Role("Role Based Access Control Administrator", "f58310d9-a9f6-439a-9e8d-f62e7b41a168")
NEVER_GRANTED = frozenset({OWNER.guid, USER_ACCESS_ADMINISTRATOR.guid, RBAC_ADMINISTRATOR.guid})

_SUBSCRIPTION = re.compile(r"^/subscriptions/[^/]+/?$", re.IGNORECASE)
_RESOURCE_GROUP = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/?$", re.IGNORECASE)


class LeastPrivilegeViolation(ValueError):
    """A grant that least privilege rules out; the message names the role, the scope and the fix."""


def role_definition_id(subscription_id: str, role: Role) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role.guid}"


def check_scope(role: Role, scope: str) -> str:
    """``scope`` if granting ``role`` there is least privilege, else LeastPrivilegeViolation (see the table)."""
    if role.guid in NEVER_GRANTED:
        raise LeastPrivilegeViolation(f"{role.name}: the app's identity never gets a role that grants access")
    if not scope.lower().startswith("/subscriptions/"):
        raise LeastPrivilegeViolation(f"{role.name} at {scope!r}: grant on a resource group or a resource")
    if _SUBSCRIPTION.match(scope):
        raise LeastPrivilegeViolation(f"{role.name} at {scope!r}: never subscription-wide; name a resource group")
    if role == CONTRIBUTOR and not _RESOURCE_GROUP.match(scope):
        raise LeastPrivilegeViolation(f"Contributor at {scope!r}: only on a target environment resource group")
    return scope


def grant(
    name: str,
    *,
    role: Role,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    reason: str,
    parent: pulumi.Resource,
) -> authorization.RoleAssignment:
    """Assign ``role`` to a managed identity at ``scope``; refuses (fails the update) what check_scope refuses."""
    return authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type="ServicePrincipal",  # skips the directory lookup that fails for a just-created identity
        role_definition_id=pulumi.Output.from_input(subscription_id).apply(lambda sub: role_definition_id(sub, role)),
        scope=pulumi.Output.from_input(scope).apply(lambda value: check_scope(role, value)),
        description=f"{role.name}: {reason}",
        opts=pulumi.ResourceOptions(parent=parent),
    )
