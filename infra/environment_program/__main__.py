"""Pulumi entry point of one runtime environment: the stack config the Provisioner sets -> RuntimeEnvironment.

Config (``controlplane/adapters/azure/pulumi/provisioner.py`` sets the first four from the release):

| key | meaning |
|---|---|
| ``azure-native:location`` | the region |
| ``environment:name`` / ``environment:kind`` / ``environment:tier`` | the release's environment |
| ``environment:resourceGroup`` | its resource group (``{name}``: the environment name); the platform stack |
|  | creates it beforehand, since the Function App may not create resource groups |
| ``environment:logAnalyticsWorkspaceId`` | the platform's Log Analytics workspace (ARM id) |
| ``environment:aksAdminGroupObjectIds`` | aks: Entra ID groups that administer the cluster (JSON list) |
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root: `infra.*` imports as in tests

import pulumi

from infra.environment import RuntimeEnvironment, RuntimeEnvironmentArgs

config = pulumi.Config("environment")
name = config.require("name")
environment = RuntimeEnvironment(
    name,
    RuntimeEnvironmentArgs(
        kind=config.require("kind"),
        resource_group_name=config.require("resourceGroup").format(name=name),
        location=pulumi.Config("azure-native").require("location"),
        log_analytics_workspace_id=config.require("logAnalyticsWorkspaceId"),
        admin_group_object_ids=tuple(config.get_object("aksAdminGroupObjectIds") or ()),
    ),
)
pulumi.export("tier", config.require("tier"))
for key, value in environment.stack_outputs.items():
    pulumi.export(key, value)
