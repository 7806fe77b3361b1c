"""Where logs and telemetry go: one Log Analytics workspace and a workspace-based Application Insights.

Both refuse key-based ingestion and queries (``disable_local_auth``): the app sends telemetry with its
managed identity (``APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD``), the environments send
logs through diagnostic settings and Container Insights with Entra ID auth.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import applicationinsights, operationalinsights


@dataclass(frozen=True)
class Observability:
    workspace: operationalinsights.Workspace
    insights: applicationinsights.Component


def build_observability(
    name_prefix: str, resource_group: pulumi.Input[str], location: str, parent: pulumi.Resource
) -> Observability:
    child = pulumi.ResourceOptions(parent=parent)
    workspace = operationalinsights.Workspace(
        f"{name_prefix}-logs",
        resource_group_name=resource_group,
        location=location,
        sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
        retention_in_days=30,
        features=operationalinsights.WorkspaceFeaturesArgs(
            disable_local_auth=True, enable_log_access_using_only_resource_permissions=True
        ),
        opts=child,
    )
    insights = applicationinsights.Component(
        f"{name_prefix}-insights",
        resource_group_name=resource_group,
        location=location,
        kind="web",
        application_type="web",
        ingestion_mode="LogAnalytics",
        workspace_resource_id=workspace.id,
        disable_local_auth=True,
        opts=child,
    )
    return Observability(workspace=workspace, insights=insights)
