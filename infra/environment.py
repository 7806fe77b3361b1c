"""``RuntimeEnvironment``: the compute a release runs on, one of two kinds, built the same way every time.

- ``containerapps``: a Container Apps managed environment (Consumption workload profile) whose logs go to
  the given Log Analytics workspace through a diagnostic setting, so no workspace shared key is ever used.
- ``aks``: an AKS cluster with Entra ID integration and Azure RBAC for Kubernetes authorization, local
  accounts disabled, the OIDC issuer and workload identity on, and Container Insights sending to the
  workspace with Entra ID auth.

The platform stack builds the environments in its config; the Provisioner builds more with the same
component through the Automation API. ``stack_outputs`` is what either exports for the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import app, containerservice, monitor

TYPE = "controlplane:infra:RuntimeEnvironment"


@dataclass(frozen=True)
class RuntimeEnvironmentArgs:
    kind: str  # "containerapps" or "aks"
    resource_group_name: pulumi.Input[str]
    location: str
    log_analytics_workspace_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str] | None = None  # aks: the Entra ID tenant of the cluster's users
    admin_group_object_ids: Sequence[str] = ()  # aks: Entra ID groups that are cluster admins
    node_vm_size: str = "Standard_D4ds_v5"
    node_count: int = 2
    kubernetes_version: str | None = None  # aks: None takes the region's default version


class RuntimeEnvironment(pulumi.ComponentResource):
    """One runtime environment; ``kind`` picks the builder (the only place that dispatches on it)."""

    kind: str
    resource_id: pulumi.Output[str]
    resource_name: pulumi.Output[str]
    stack_outputs: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: RuntimeEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        builder = _BUILDERS.get(args.kind)
        if builder is None:
            raise ValueError(f'RuntimeEnvironment {name}: kind must be "containerapps" or "aks" (got {args.kind!r})')
        super().__init__(TYPE, name, None, opts)
        self.kind = args.kind
        self.stack_outputs = builder(self, name, args)
        self.resource_id = pulumi.Output.from_input(self.stack_outputs["id"])
        self.resource_name = pulumi.Output.from_input(self.stack_outputs["name"])
        self.register_outputs(self.stack_outputs)


def _container_apps(parent: RuntimeEnvironment, name: str, args: RuntimeEnvironmentArgs) -> dict:
    child = pulumi.ResourceOptions(parent=parent)
    environment = app.ManagedEnvironment(
        name,
        resource_group_name=args.resource_group_name,
        location=args.location,
        workload_profiles=[app.WorkloadProfileArgs(name="Consumption", workload_profile_type="Consumption")],
        # "azure-monitor" + a diagnostic setting instead of "log-analytics", which needs the workspace key.
        app_logs_configuration=app.AppLogsConfigurationArgs(destination="azure-monitor"),
        zone_redundant=False,
        opts=child,
    )
    monitor.DiagnosticSetting(
        f"{name}-logs",
        resource_uri=environment.id,
        workspace_id=args.log_analytics_workspace_id,
        log_analytics_destination_type="Dedicated",
        logs=[monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)],
        metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
        opts=child,
    )
    return {
        "kind": "containerapps",
        "id": environment.id,
        "name": environment.name,
        "defaultDomain": environment.default_domain,
    }


def _aks(parent: RuntimeEnvironment, name: str, args: RuntimeEnvironmentArgs) -> dict:
    cluster = containerservice.ManagedCluster(
        name,
        resource_group_name=args.resource_group_name,
        location=args.location,
        dns_prefix=name,
        kubernetes_version=args.kubernetes_version,
        identity=containerservice.ManagedClusterIdentityArgs(
            type=containerservice.ResourceIdentityType.SYSTEM_ASSIGNED
        ),
        # Entra ID sign-in, Kubernetes authorization by Azure RBAC role assignments, no static admin credentials.
        aad_profile=containerservice.ManagedClusterAADProfileArgs(
            managed=True,
            enable_azure_rbac=True,
            tenant_id=args.tenant_id,
            admin_group_object_ids=list(args.admin_group_object_ids) or None,
        ),
        enable_rbac=True,
        disable_local_accounts=True,
        oidc_issuer_profile=containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
        security_profile=containerservice.ManagedClusterSecurityProfileArgs(
            workload_identity=containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
        ),
        agent_pool_profiles=[
            containerservice.ManagedClusterAgentPoolProfileArgs(
                name="system",
                mode="System",
                os_type="Linux",
                os_sku="AzureLinux",
                vm_size=args.node_vm_size,
                count=args.node_count,
            )
        ],
        network_profile=containerservice.ContainerServiceNetworkProfileArgs(
            network_plugin="azure", network_plugin_mode="overlay"
        ),
        auto_upgrade_profile=containerservice.ManagedClusterAutoUpgradeProfileArgs(
            upgrade_channel="stable", node_os_upgrade_channel="NodeImage"
        ),
        addon_profiles={
            "omsagent": containerservice.ManagedClusterAddonProfileArgs(
                enabled=True,
                config={"logAnalyticsWorkspaceResourceID": args.log_analytics_workspace_id, "useAADAuth": "true"},
            )
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return {
        "kind": "aks",
        "id": cluster.id,
        "name": cluster.name,
        "fqdn": cluster.fqdn,
        "oidcIssuerUrl": cluster.oidc_issuer_profile.apply(lambda profile: profile.issuer_url if profile else None),
    }


_BUILDERS: dict[str, Callable[[RuntimeEnvironment, str, RuntimeEnvironmentArgs], dict]] = {
    "containerapps": _container_apps,
    "aks": _aks,
}
