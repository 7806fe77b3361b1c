"""The Function App on Flex Consumption: Python 3.11, system-assigned identity, no keys in its settings.

Every connection is identity-based: the host and the durable task hub reach storage by account name, the
stored records by the Table endpoint, the Service Bus triggers by the namespace's host name, and telemetry is
sent with Entra ID auth. Flex Consumption takes its runtime and deployment package from
``functionAppConfig``, so FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION are not app settings here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import web

from infra.settings import PlatformSettings

PYTHON_VERSION = "3.11"


@dataclass(frozen=True)
class Connections:
    storage_account_name: pulumi.Input[str]
    table_endpoint: pulumi.Input[str]
    service_bus_namespace: pulumi.Input[str]  # fully qualified: <name>.servicebus.windows.net
    insights_connection_string: pulumi.Input[str]
    deployment_container_url: pulumi.Input[str]


def control_plane_settings(settings: PlatformSettings) -> dict[str, str]:
    """The CONTROLPLANE_* app settings (controlplane/config.py) the app reads in Azure.

    The local-host-only ones (LOCAL_DIR, IMAGE_CATALOG, BUS_*) are left out: they mean nothing on the
    Functions host. The schedules are set even at their defaults, because the timer triggers' ``%NAME%``
    expressions are resolved by the host from app settings and fail when one is missing.
    """
    return {
        "CONTROLPLANE_TABLE_PREFIX": settings.table_prefix,
        "CONTROLPLANE_EVENT_SOURCE": settings.event_source,
        "CONTROLPLANE_DESIRED_STATE": settings.desired_state,
        "CONTROLPLANE_DESIRED_STATE_REF": settings.desired_state_ref,
        "CONTROLPLANE_DESIRED_STATE_PATH": settings.desired_state_path,
        "CONTROLPLANE_MONITOR_DEGRADED_SECONDS": str(settings.monitor_degraded_seconds),
        **settings.schedules,
    }


def connection_settings(connections: Connections) -> dict[str, pulumi.Input[str]]:
    """Identity-based connections: names and endpoints only, never a key or a connection string with one."""
    return {
        "AzureWebJobsStorage__accountName": connections.storage_account_name,
        "AzureWebJobsStorage__tableServiceUri": connections.table_endpoint,
        "ServiceBusConnection__fullyQualifiedNamespace": connections.service_bus_namespace,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": connections.insights_connection_string,
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",
    }


def build_function_app(
    settings: PlatformSettings,
    resource_group: pulumi.Input[str],
    connections: Connections,
    parent: pulumi.Resource,
    extra_settings: Mapping[str, pulumi.Input[str]] | None = None,
) -> web.WebApp:
    child = pulumi.ResourceOptions(parent=parent)
    prefix = settings.name_prefix
    plan = web.AppServicePlan(
        f"{prefix}-plan",
        resource_group_name=resource_group,
        location=settings.location,
        kind="functionapp",
        reserved=True,  # Linux
        sku=web.SkuDescriptionArgs(name="FC1", tier="FlexConsumption"),
        opts=child,
    )
    app_settings: Mapping[str, pulumi.Input[str]] = {
        **connection_settings(connections),
        **control_plane_settings(settings),
        **(extra_settings or {}),
    }
    site = web.WebApp(
        f"{prefix}-functions",
        resource_group_name=resource_group,
        location=settings.location,
        kind="functionapp,linux",
        server_farm_id=plan.id,
        https_only=True,
        identity=web.ManagedServiceIdentityArgs(type=web.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
        function_app_config=web.FunctionAppConfigArgs(
            deployment=web.FunctionsDeploymentArgs(
                storage=web.FunctionsDeploymentStorageArgs(
                    type="blobContainer",
                    value=connections.deployment_container_url,
                    authentication=web.FunctionsDeploymentStorageAuthenticationArgs(type="SystemAssignedIdentity"),
                )
            ),
            runtime=web.FunctionsRuntimeArgs(name="python", version=PYTHON_VERSION),
            scale_and_concurrency=web.FunctionsScaleAndConcurrencyArgs(
                maximum_instance_count=settings.function_maximum_instances,
                instance_memory_mb=settings.function_instance_memory_mb,
            ),
        ),
        site_config=web.SiteConfigArgs(
            app_settings=[web.NameValuePairArgs(name=name, value=value) for name, value in app_settings.items()],
            min_tls_version="1.2",
            scm_min_tls_version="1.2",
            ftps_state="Disabled",
            http20_enabled=True,
        ),
        opts=child,
    )
    # Basic-auth publishing (FTP and the SCM site) off: deployments sign in with Entra ID.
    for policy, resource in (("ftp", web.WebAppFtpAllowed), ("scm", web.WebAppScmAllowed)):
        resource(
            f"{prefix}-functions-{policy}-basic-auth",
            resource_group_name=resource_group,
            name=site.name,
            allow=False,
            opts=child,
        )
    return site
