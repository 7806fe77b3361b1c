"""``ControlPlanePlatform``: everything the control plane's Function App runs on, and what its identity may do.

Resource group -> Log Analytics + Application Insights -> storage (host, task hub, state) -> the Durable Task
Scheduler when ``durableBackend`` selects it (``durable_backend.py``) -> Service Bus
(``events`` + one filtered subscription per consumer) -> Key Vault -> Function App (Flex Consumption) with
Easy Auth (Entra ID) -> the runtime environments in config -> least-privilege role assignments for the app's
identity -> the portal workbook, the alert rules and their action group.

(Named ``control_plane_platform`` rather than ``platform``: Pulumi runs ``infra/`` with that folder first on
``sys.path``, where a ``platform.py`` would shadow the standard library module.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
from pulumi_azure_native import authorization, keyvault, resources, web

from infra import roles
from infra.alerts import build_action_group, build_alerts
from infra.dashboards import build_workbook
from infra.durable_backend import AZURE_STORAGE, DURABLE_TASK_SCHEDULER, build_durable_task_scheduler
from infra.easy_auth import build_easy_auth
from infra.environment import RuntimeEnvironment, RuntimeEnvironmentArgs
from infra.function_site import Connections, build_function_app
from infra.messaging import build_event_bus
from infra.notifications import notification_settings
from infra.observability import build_observability
from infra.settings import PlatformSettings
from infra.state_storage import build_state_storage

TYPE = "controlplane:infra:ControlPlanePlatform"


class ControlPlanePlatform(pulumi.ComponentResource):
    """The platform of one control plane; ``stack_outputs`` is what the stack exports."""

    stack_outputs: dict[str, pulumi.Input]
    environments: dict[str, RuntimeEnvironment]

    def __init__(self, name: str, settings: PlatformSettings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        prefix, location = settings.name_prefix, settings.location
        child = pulumi.ResourceOptions(parent=self)
        client = authorization.get_client_config_output()
        group = resources.ResourceGroup(f"{prefix}-platform", location=location, opts=child)

        observability = build_observability(prefix, group.name, location, self)
        scheduler_spec = settings.durable_task_scheduler
        on_storage = scheduler_spec is None  # Azure Storage keeps the task hub: its tables, queues and leases
        state = build_state_storage(prefix, group.name, location, settings.table_prefix, self, on_storage)
        scheduler = None
        if scheduler_spec is not None:
            scheduler = build_durable_task_scheduler(prefix, group.name, location, scheduler_spec, self)
        bus = build_event_bus(prefix, group.name, location, self)
        vault = keyvault.Vault(
            f"{prefix}-kv",
            resource_group_name=group.name,
            location=location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=client.tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,  # access by role assignment, no access policies
                enable_soft_delete=True,
                soft_delete_retention_in_days=90,
                enable_purge_protection=True,
                # Reachable over the internet (RBAC still decides every call): the Flex app is not VNet-integrated
                # here and a Function App is not a "trusted service" that the vault firewall lets through.
                public_network_access="Enabled",
            ),
            opts=child,
        )
        self.environments = {}
        env_groups: dict[str, resources.ResourceGroup] = {}
        for spec in settings.environments:
            env_groups[spec.name] = resources.ResourceGroup(f"{prefix}-env-{spec.name}", location=location, opts=child)
            self.environments[spec.name] = RuntimeEnvironment(
                f"{prefix}-{spec.name}",
                RuntimeEnvironmentArgs(
                    kind=spec.kind,
                    resource_group_name=env_groups[spec.name].name,
                    location=location,
                    log_analytics_workspace_id=observability.workspace.id,
                    tenant_id=client.tenant_id,
                    admin_group_object_ids=settings.aks_admin_group_object_ids,
                    node_vm_size=spec.node_vm_size,
                    node_count=spec.node_count,
                    kubernetes_version=spec.kubernetes_version,
                ),
                opts=child,
            )
        placements = environment_placements(self.environments, env_groups, client.subscription_id, location)
        site = build_function_app(
            settings,
            group.name,
            Connections(
                storage_account_name=state.account.name,
                table_endpoint=state.table_endpoint,
                service_bus_namespace=bus.fully_qualified_namespace,
                insights_connection_string=observability.insights.connection_string,
                deployment_container_url=state.deployment_container_url,
            ),
            self,
            extra_settings={
                "CONTROLPLANE_ENVIRONMENTS": placements,
                "CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_ID": observability.workspace.customer_id,
                "CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_RESOURCE_ID": observability.workspace.id,
                "CONTROLPLANE_ENVIRONMENT_RESOURCE_GROUP": f"{prefix}-env-{{name}}",
                **notification_settings(settings.notifications, vault.properties.apply(_vault_uri)),
                **(scheduler.app_settings if scheduler else {}),
            },
        )
        build_easy_auth(settings, group.name, site, client.tenant_id, self)
        principal = site.identity.apply(_principal_id)

        def grant(name: str, role: roles.Role, scope: pulumi.Input[str], reason: str) -> None:
            roles.grant(
                f"{prefix}-{name}",
                role=role,
                scope=scope,
                principal_id=principal,
                subscription_id=client.subscription_id,
                reason=reason,
                parent=self,
            )

        grant("bus-send", roles.SERVICE_BUS_DATA_SENDER, bus.topic.id, "publish envelopes to the events topic")
        grant("bus-receive", roles.SERVICE_BUS_DATA_RECEIVER, bus.topic.id, "Service Bus triggers on events")
        # On the Durable Task Scheduler the task hub is not in storage: no task hub queues, tables or leases there.
        hub_tables = ", task hub tables" if scheduler is None else ""
        grant("tables", roles.STORAGE_TABLE_DATA_CONTRIBUTOR, state.account.id, f"state tables{hub_tables}")
        if scheduler is None:
            grant("queues", roles.STORAGE_QUEUE_DATA_CONTRIBUTOR, state.account.id, "durable task hub queues")
        else:
            hub = scheduler.task_hub.id
            grant("durable-tasks", roles.DURABLE_TASK_DATA_CONTRIBUTOR, hub, "orchestrations in the task hub")
        leases = "task hub leases, " if scheduler is None else ""
        grant("blobs", roles.STORAGE_BLOB_DATA_CONTRIBUTOR, state.account.id, f"{leases}host, package")
        grant("logs-read", roles.MONITORING_READER, observability.workspace.id, "metrics and logs for scaling")
        grant("telemetry", roles.MONITORING_METRICS_PUBLISHER, observability.insights.id, "Entra ID telemetry")
        grant("secrets", roles.KEY_VAULT_SECRETS_USER, vault.id, "read secrets for SecretBinding")

        contributor_groups: list[pulumi.Output[str]] = []
        for spec in settings.environments:
            env_group = env_groups[spec.name]
            grant(f"env-{spec.name}", roles.CONTRIBUTOR, env_group.id, f"roll out to environment {spec.name}")
            if spec.kind == "aks":
                environment = self.environments[spec.name]
                grant(f"env-{spec.name}-k8s", roles.AKS_RBAC_WRITER, environment.resource_id, "Kubernetes rollouts")
            contributor_groups.append(env_group.name)
        for existing in settings.environment_resource_groups:
            scope = pulumi.Output.concat("/subscriptions/", client.subscription_id, "/resourceGroups/", existing)
            grant(f"target-{existing}", roles.CONTRIBUTOR, scope, "provision environments in this group")
            contributor_groups.append(pulumi.Output.from_input(existing))

        insights_id = observability.insights.id
        workbook = build_workbook(prefix, group.name, location, insights_id, self)
        action_group = build_action_group(settings, group.name, self)
        build_alerts(settings, group.name, location, insights_id, bus.namespace.id, action_group, self)

        self.stack_outputs = {
            "resourceGroup": group.name,
            "functionAppName": site.name,
            "functionAppHostname": site.default_host_name,
            "functionAppPrincipalId": principal,
            "storageAccount": state.account.name,
            "serviceBusNamespace": bus.fully_qualified_namespace,
            "eventsTopic": bus.topic.name,
            "appInsightsConnectionString": pulumi.Output.secret(observability.insights.connection_string),
            "keyVaultUri": vault.properties.apply(_vault_uri),
            "logAnalyticsWorkspaceId": observability.workspace.id,
            "workbookId": workbook.id,
            "alertActionGroupId": action_group.id,
            "environmentResourceGroups": pulumi.Output.all(*contributor_groups),
            "environments": {name: env.stack_outputs for name, env in self.environments.items()},
            "durableBackend": AZURE_STORAGE if scheduler is None else DURABLE_TASK_SCHEDULER,
            **(scheduler.stack_outputs if scheduler else {}),
        }
        self.register_outputs(self.stack_outputs)


def environment_placements(
    environments: Mapping[str, RuntimeEnvironment],
    groups: Mapping[str, resources.ResourceGroup],
    subscription_id: pulumi.Input[str],
    location: str,
) -> pulumi.Output[str]:
    """``CONTROLPLANE_ENVIRONMENTS`` (controlplane/config_azure.py): where each environment of this stack runs."""
    names = sorted(environments)
    values = [subscription_id]
    for name in names:
        values += [groups[name].name, environments[name].resource_id, environments[name].resource_name]

    def placements(resolved: list[str]) -> str:
        subscription, rest = resolved[0], resolved[1:]
        found = {}
        for index, name in enumerate(names):
            group, resource_id, resource_name = rest[3 * index : 3 * index + 3]
            kind = environments[name].kind
            runtime = {"managedEnvironmentId": resource_id} if kind == "containerapps" else {"cluster": resource_name}
            found[name] = {"compute": kind, "subscriptionId": subscription, "resourceGroup": group}
            found[name].update(location=location, **runtime)
        return json.dumps(found, sort_keys=True)

    return pulumi.Output.all(*values).apply(placements)


def _vault_uri(properties: keyvault.outputs.VaultPropertiesResponse) -> str:
    return properties.vault_uri


def _principal_id(identity: web.outputs.ManagedServiceIdentityResponse | None) -> str:
    """The function app's system-assigned identity, which the site always asks for."""
    if identity is None:
        raise ValueError("the function app has no managed identity: its identity type must be SystemAssigned")
    return identity.principal_id
