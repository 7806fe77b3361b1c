"""The adapters a Function App in Azure works with, built from settings with the managed identity.

Every client gets ``DefaultAzureCredential`` (the Function App's system-assigned identity in Azure, a
developer's az login elsewhere); no key or key-based connection string is read. Building touches no network:
each client connects on first use. A port whose settings are absent stays unconfigured and says so when used
(``Services._configured``), so a half-configured app fails loudly at the step that needs the missing piece.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from controlplane.adapters.by_environment.compute import ComputeByEnvironment
from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.adapters.storage.stores import Stores
from controlplane.config import InvalidSettings, Settings
from controlplane.config_azure import Placement
from controlplane.errors import FieldError
from controlplane.ports import Compute, DesiredState, EventBus, Metrics, Provisioner

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from controlplane.bootstrap.root import Services

ENVIRONMENT_PROJECT = "runtime-environment"
# requirements.txt leaves the Pulumi SDK out: it is of no use without the pulumi CLI, which Flex Consumption lacks.
PULUMI_MISSING = (
    "set, so environments are provisioned with Pulumi, but the pulumi package is not installed: install "
    "requirements-pulumi.txt where the workers also have the pulumi CLI (a custom container; Flex Consumption "
    "has no CLI), or unset PULUMI_BACKEND_URL to release to the environments the platform stack built"
)


def build_azure_services(settings: Settings, store: Stores, root: Path) -> Services:
    """Services over Azure: Service Bus, Container Apps / AKS per environment, Azure Monitor, Pulumi, Git."""
    from azure.identity import DefaultAzureCredential

    from controlplane.bootstrap.root import Services

    credential = DefaultAzureCredential()
    compute = ComputeByEnvironment(
        {
            name: _compute(name, placement, credential, settings.azure.service_bus_namespace)
            for name, placement in settings.azure.environments.items()
        }
    )
    return Services(
        settings,
        store,
        _event_bus(settings, credential),
        compute,
        HttpHealthProbe(compute.endpoints),
        _provisioner(settings, root),
        _desired_state(settings),
        _metrics(settings, credential),
    )


def _event_bus(settings: Settings, credential: TokenCredential) -> EventBus | None:
    if not settings.azure.service_bus_namespace:
        return None
    from azure.servicebus import ServiceBusClient

    from controlplane.adapters.azure.servicebus.event_bus import ServiceBusEventBus

    return ServiceBusEventBus(ServiceBusClient(settings.azure.service_bus_namespace, credential), settings.azure.topic)


def _compute(
    environment: str, placement: Placement, credential: TokenCredential, service_bus_namespace: str | None
) -> Compute:
    if placement.compute == "containerapps":
        from azure.mgmt.appcontainers import ContainerAppsAPIClient

        from controlplane.adapters.azure.container_apps.compute import ContainerAppsCompute
        from controlplane.adapters.azure.container_apps.provider import ContainerAppsEnvironment, ContainerAppsSettings

        where = ContainerAppsEnvironment(placement.resource_group, placement.managed_environment_id)
        return ContainerAppsCompute(
            ContainerAppsAPIClient(credential, placement.subscription_id),
            ContainerAppsSettings(
                {environment: where},
                placement.location,
                identity="System",
                service_bus_namespace=service_bus_namespace,  # where queue-scaled services' queues live
            ),
        )
    from azure.mgmt.containerservice import ContainerServiceClient

    from controlplane.adapters.azure.aks.compute import AksCompute
    from controlplane.adapters.azure.aks.credentials import AksClusterAccess

    clusters = ContainerServiceClient(credential, placement.subscription_id)
    return AksCompute(AksClusterAccess(clusters, credential, placement.resource_group, placement.cluster))


def _provisioner(settings: Settings, root: Path) -> Provisioner:
    """Pulumi stacks per environment with a backend; else the environments the platform stack built."""
    if not settings.azure.pulumi_backend_url:
        from controlplane.adapters.azure.placed.provisioner import PlacedEnvironments

        return PlacedEnvironments(settings.azure.environments)
    try:
        from controlplane.adapters.azure.pulumi.provisioner import PulumiProvisioner
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] != "pulumi":
            raise
        raise InvalidSettings([FieldError("PULUMI_BACKEND_URL", PULUMI_MISSING)]) from error

    platform = {"environment:resourceGroup": settings.azure.environment_resource_group}
    if settings.azure.log_analytics_workspace_resource_id:
        platform["environment:logAnalyticsWorkspaceId"] = settings.azure.log_analytics_workspace_resource_id
    return PulumiProvisioner(
        root / settings.azure.pulumi_work_dir,
        ENVIRONMENT_PROJECT,
        settings.azure.pulumi_backend_url,
        secrets_provider=settings.azure.pulumi_secrets_provider,
        platform_config=platform,
    )


def _desired_state(settings: Settings) -> DesiredState | None:
    if not settings.desired_state:
        return None
    from controlplane.adapters.git.desired_state import GitDesiredState

    return GitDesiredState(settings.desired_state, settings.desired_state_ref, settings.desired_state_path)


def _metrics(settings: Settings, credential: TokenCredential) -> Metrics | None:
    if not settings.azure.log_analytics_workspace_id:
        return None
    from azure.monitor.query import LogsQueryClient, MetricsQueryClient

    from controlplane.adapters.azure.monitor.metrics import AzureMonitorMetrics, AzureMonitorSettings, ServiceResources

    placements = settings.azure.environments

    def resources(environment: str, service: str) -> ServiceResources | None:
        placement = placements.get(environment)
        if placement is None or placement.compute != "containerapps":
            return None  # AKS: rps from Application Insights only
        app = (
            f"/subscriptions/{placement.subscription_id}/resourceGroups/{placement.resource_group}"
            f"/providers/Microsoft.App/containerApps/{service}"
        )
        return ServiceResources(container_app_id=app)

    return AzureMonitorMetrics(
        LogsQueryClient(credential),
        MetricsQueryClient(credential),
        AzureMonitorSettings(settings.azure.log_analytics_workspace_id, resources=resources),
    )
