"""The ports of a Function App in Azure, built from settings with the managed identity.

Every client gets ``DefaultAzureCredential`` (the Function App's system-assigned identity in Azure, a
developer's az login elsewhere); no key or key-based connection string is read. Building touches no network but
the state store's table creation: each client connects on first use. A port whose settings are absent stays
unconfigured and says so when used (``controlplane.bootstrap.container.Port``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from controlplane.adapters.by_environment.compute import ComputeByEnvironment
from controlplane.adapters.by_provider import AnalysisByProvider
from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.adapters.http.hooks import SignedHookCaller
from controlplane.adapters.http.webhook import HttpWebhookPoster
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.bootstrap.container import Ports
from controlplane.config import APP_ROOT, InvalidSettings, Settings
from controlplane.config_azure import Placement
from controlplane.errors import FieldError, PermanentError
from controlplane.ports import (
    AnalysisProvider,
    Compute,
    DesiredState,
    EventBus,
    HealthProbe,
    Metrics,
    Provisioner,
    WebhookPoster,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableServiceClient

ENVIRONMENT_PROJECT = "runtime-environment"
# requirements.txt leaves the Pulumi SDK out: it is of no use without the pulumi CLI, which Flex Consumption lacks.
PULUMI_MISSING = (
    "set, so environments are provisioned with Pulumi, but the pulumi package is not installed: install "
    "requirements-pulumi.txt where the workers also have the pulumi CLI (a custom container; Flex Consumption "
    "has no CLI), or unset PULUMI_BACKEND_URL to release to the environments the platform stack built"
)


def azure_ports(
    settings: Settings,
    *,
    root: Path = APP_ROOT,
    store: Stores | None = None,
    events: EventBus | None = None,
    compute: Compute | None = None,
    health: HealthProbe | None = None,
    provisioner: Provisioner | None = None,
    desired_state: DesiredState | None = None,
    metrics: Metrics | None = None,
    webhooks: WebhookPoster | None = None,
    analysis: AnalysisProvider | None = None,
) -> Ports:
    """Ports over Azure: Table storage, Service Bus, Container Apps / AKS per environment, Azure Monitor,
    Pulumi (its work dir under ``root``), Git. A port given by keyword is used instead of being built."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    if compute is None or health is None:
        environments = ComputeByEnvironment(
            {
                name: _compute(name, placement, credential, settings.azure.service_bus_namespace)
                for name, placement in settings.azure.environments.items()
            }
        )
        compute = environments if compute is None else compute
        # Endpoints come from Resource Manager or a cluster's API server: reused for a while, not read per probe.
        if health is None:
            health = HttpHealthProbe(environments.endpoints, endpoint_ttl_seconds=settings.endpoint_cache_seconds)
    return Ports(
        settings=settings,
        store=table_stores(settings) if store is None else store,
        events=_event_bus(settings, credential) if events is None else events,
        compute=compute,
        health=health,
        provisioner=_provisioner(settings, root) if provisioner is None else provisioner,
        desired_state=_desired_state(settings) if desired_state is None else desired_state,
        metrics=_metrics(settings, credential) if metrics is None else metrics,
        webhooks=HttpWebhookPoster() if webhooks is None else webhooks,
        analysis=_analysis(settings, credential) if analysis is None else analysis,
        hooks=SignedHookCaller(),
    )


def table_service(settings: Settings) -> TableServiceClient:
    """A Table service client from settings: a connection string, or the endpoint with managed identity.

    Proxy settings are not read from the environment on every request (``use_env_settings=False``): that
    lookup costs about a millisecond per call, a third of an Azurite round trip.
    """
    from azure.core.pipeline.transport import RequestsTransport
    from azure.data.tables import TableServiceClient

    transport = RequestsTransport(use_env_settings=False)
    if settings.storage_connection:
        return TableServiceClient.from_connection_string(settings.storage_connection, transport=transport)
    if not settings.table_endpoint:  # a Settings built by hand, not read from the environment, may hold neither
        raise PermanentError(
            "no Table storage: set CONTROLPLANE_STORAGE or AzureWebJobsStorage__tableServiceUri (see README, Settings)"
        )
    from azure.identity import DefaultAzureCredential

    return TableServiceClient(
        endpoint=settings.table_endpoint, credential=DefaultAzureCredential(), transport=transport
    )


def table_stores(settings: Settings) -> Stores:
    """The stored records on Table storage (Azurite for development storage), with their tables created."""
    from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments

    tables = AzureTableDocuments(table_service(settings), prefix=settings.table_prefix)
    create_tables(tables)
    return Stores.over(tables)


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
    from azure.monitor.query import LogsQueryClient
    from azure.monitor.querymetrics import MetricsClient

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
        return ServiceResources(container_app_id=app, region=placement.location or None)

    return AzureMonitorMetrics(
        LogsQueryClient(credential),
        lambda endpoint: MetricsClient(endpoint, credential),
        AzureMonitorSettings(
            settings.azure.log_analytics_workspace_id,
            resources=resources,
            metrics_endpoint=settings.azure.metrics_endpoint,
        ),
    )


def _analysis(settings: Settings, credential: TokenCredential) -> AnalysisProvider:
    """Application Insights (KQL on the manifest's workspace) and managed Prometheus (PromQL on its endpoint)."""
    from azure.monitor.query import LogsQueryClient

    from controlplane.adapters.azure.monitor.analysis_logs import LogsAnalysis, LogsAnalysisSettings
    from controlplane.adapters.azure.monitor.prometheus import PrometheusAnalysis, PrometheusSettings

    azure = settings.azure
    logs = LogsAnalysis(LogsQueryClient(credential), LogsAnalysisSettings(selector=azure.analysis_kql_selector))
    prometheus = PrometheusAnalysis(
        PrometheusSettings(selector=azure.analysis_promql_selector, status_label=azure.analysis_promql_status_label),
        credential,
    )
    return AnalysisByProvider(
        {"applicationInsights": logs, "prometheus": prometheus},
        missing={"router": "the router provider only runs on local compute"},
    )
