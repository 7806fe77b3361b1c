"""The Pulumi program in infra/, run against Pulumi's mocks: what it declares and the security it carries.

The mocks stand in for the engine and the Azure provider: every resource's type and inputs are recorded, and
the few outputs Azure computes (endpoints, the app's principal id, ...) are filled in with plausible values.
"""

from __future__ import annotations

import asyncio
import json
import re
import runpy
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from controlplane.adapters.azure.servicebus.mapping import LOCK_DURATION, iso8601_duration
from controlplane.adapters.storage.stores import TABLES
from controlplane.config import SCHEDULE_DEFAULTS, Settings
from controlplane.domain.event_catalog import EventType
from funchost.functions import SERVICE_BUS, TIMER
from funchost.servicebus.bus import DEFAULT_LOCK_DURATION
from infra import roles
from infra.control_plane_platform import ControlPlanePlatform
from infra.environment import RuntimeEnvironment, RuntimeEnvironmentArgs
from infra.settings import InvalidConfig, PlatformSettings, settings_from_values
from infra.state_storage import STATE_TABLES, TASK_HUB, TASK_HUB_TABLES
from tests import product_app

pytestmark = pytest.mark.slow  # Pulumi's runtime and the Azure Native SDK take seconds to load

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
TENANT = "00000000-0000-0000-0000-0000000000bb"
PRINCIPAL = "00000000-0000-0000-0000-0000000000cc"
PROJECT = "runtime-control-plane"
CONFIG = {
    "location": "westeurope",
    "desiredState": "https://github.com/contoso/desired-state.git",
    "desiredStatePath": "releases",
    "environments": [{"name": "dev", "kind": "containerapps"}, {"name": "prod", "kind": "aks", "nodeCount": 3}],
    "environmentResourceGroups": ["rg-runtime-staging"],
    "aksAdminGroupObjectIds": ["11111111-1111-1111-1111-111111111111"],
    "authClientId": "22222222-2222-2222-2222-222222222222",
    "alertEmails": ["oncall@contoso.com"],
    "alertWebhooks": ["https://contoso.webhook.office.com/webhookb2/abc"],
}
APP_ID = {"authClientId": CONFIG["authClientId"]}
_PROVIDER_TYPES = {
    "storage:StorageAccount": "Microsoft.Storage/storageAccounts",
    "servicebus:Namespace": "Microsoft.ServiceBus/namespaces",
    "operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
    "applicationinsights:Component": "Microsoft.Insights/components",
    "keyvault:Vault": "Microsoft.KeyVault/vaults",
    "web:WebApp": "Microsoft.Web/sites",
    "app:ManagedEnvironment": "Microsoft.App/managedEnvironments",
    "containerservice:ManagedCluster": "Microsoft.ContainerService/managedClusters",
}

# The input that names a resource explicitly, where it is not `name`.
_NAME_INPUTS = {
    "servicebus:Topic": "topicName",
    "servicebus:Subscription": "subscriptionName",
    "servicebus:Rule": "ruleName",
    "storage:Table": "tableName",
    "storage:BlobContainer": "containerName",
    "applicationinsights:Workbook": "resourceName",
    "durabletask:TaskHub": "taskHubName",
}


@dataclass(frozen=True)
class Declared:
    type: str
    name: str
    inputs: dict[str, Any]
    id: str


WORKSPACE_GUID = "00000000-0000-0000-0000-00000000c0de"


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource (components too) and answers like Azure would for the outputs it computes."""

    declared: list[Declared] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        kind = args.typ.removeprefix("azure-native:")
        name = args.inputs.get(_NAME_INPUTS.get(kind, "name")) or args.name  # else Pulumi auto-names it
        group = args.inputs.get("resourceGroupName", "rg")
        if kind == "resources:ResourceGroup":
            arm_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"
        elif args.typ.startswith("azure-native:"):
            provider_type = _PROVIDER_TYPES.get(kind, f"Microsoft.Mock/{kind.replace(':', '/')}")
            arm_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{provider_type}/{name}"
        else:
            arm_id = ""
        self.declared.append(Declared(args.typ, args.name, dict(args.inputs), arm_id))
        return arm_id, {"name": name, **args.inputs, **_computed(kind, name, args.inputs)}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": SUBSCRIPTION, "tenantId": TENANT, "objectId": "me", "clientId": "me"}
        raise AssertionError(f"unexpected invoke {args.token}")

    def of_type(self, kind: str) -> list[Declared]:
        return [d for d in self.declared if d.type.removeprefix("azure-native:") == kind]

    def one(self, kind: str) -> Declared:
        (found,) = self.of_type(kind)
        return found


def _computed(kind: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    if kind == "operationalinsights:Workspace":
        return {"customerId": WORKSPACE_GUID}
    if kind == "storage:StorageAccount":
        return {"primaryEndpoints": {s: f"https://{name}.{s}.core.windows.net/" for s in ("blob", "queue", "table")}}
    if kind == "servicebus:Namespace":
        return {"serviceBusEndpoint": f"https://{name}.servicebus.windows.net:443/"}
    if kind == "applicationinsights:Component":
        return {"connectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=x"}
    if kind == "web:WebApp":
        return {
            "defaultHostName": f"{name}.azurewebsites.net",
            "identity": {**inputs["identity"], "principalId": PRINCIPAL},
        }
    if kind == "keyvault:Vault":
        return {"properties": {**inputs["properties"], "vaultUri": f"https://{name}.vault.azure.net/"}}
    if kind == "app:ManagedEnvironment":
        return {"defaultDomain": f"{name}.westeurope.azurecontainerapps.io"}
    if kind == "durabletask:Scheduler":
        return {"properties": {**inputs["properties"], "endpoint": f"https://{name}.westeurope.durabletask.io"}}
    if kind == "durabletask:TaskHub":
        dashboard = f"https://dashboard.durabletask.io/subscriptions/{SUBSCRIPTION}/schedulers/s/taskhubs/{name}"
        return {"properties": {"dashboardUrl": dashboard, "provisioningState": "Succeeded"}}
    if kind == "containerservice:ManagedCluster":
        return {
            "fqdn": f"{name}.hcp.westeurope.azmk8s.io",
            "oidcIssuerProfile": {"enabled": True, "issuerURL": "https://oidc/"},
        }
    return {}


@pytest.fixture(scope="module", autouse=True)
def current_event_loop() -> None:
    """Pulumi's mocks run on the main thread's current event loop; an earlier test's ``asyncio.run`` leaves
    the thread without one, so each module starts with its own."""
    asyncio.set_event_loop(asyncio.new_event_loop())


@dataclass(frozen=True)
class Built:
    mocks: RecordingMocks
    platform: ControlPlanePlatform
    outputs: dict[str, Any]


def build(settings: PlatformSettings) -> Built:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="test", preview=False)
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output:
        holder["platform"] = ControlPlanePlatform("controlplane", settings)
        resolved = pulumi.Output.from_input(holder["platform"].stack_outputs)
        return resolved.apply(lambda outputs: holder.update(outputs=outputs))

    run()  # returns once every registration and output has settled
    return Built(mocks, holder["platform"], holder["outputs"])


@pytest.fixture(scope="module")
def built() -> Built:
    return build(settings_from_values(CONFIG))


def _settings(built: Built) -> dict[str, str]:
    site_config = built.mocks.one("web:WebApp").inputs["siteConfig"]
    return {pair["name"]: pair["value"] for pair in site_config["appSettings"]}


def _assignments(built: Built) -> list[tuple[str, str]]:
    names = {role.guid: role.name for role in vars(roles).values() if isinstance(role, roles.Role)}
    found = []
    for assignment in built.mocks.of_type("authorization:RoleAssignment"):
        inputs = assignment.inputs
        assert inputs["principalId"] == PRINCIPAL and inputs["principalType"] == "ServicePrincipal"
        prefix = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        assert inputs["roleDefinitionId"].startswith(prefix)
        found.append((names[inputs["roleDefinitionId"].removeprefix(prefix)], inputs["scope"]))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# --- what the platform declares ---------------------------------------------------------------------------


def test_the_platform_declares_one_of_each_kind_of_resource(built: Built) -> None:
    for kind in (
        "storage:StorageAccount",
        "servicebus:Namespace",
        "servicebus:Topic",
        "operationalinsights:Workspace",
        "applicationinsights:Component",
        "keyvault:Vault",
        "web:AppServicePlan",
        "web:WebApp",
        "app:ManagedEnvironment",
        "containerservice:ManagedCluster",
    ):
        assert len(built.mocks.of_type(kind)) == 1, kind
    assert len(built.mocks.of_type("resources:ResourceGroup")) == 3  # the platform's and one per environment
    assert len(built.mocks.of_type("controlplane:infra:ControlPlanePlatform")) == 1
    assert len(built.mocks.of_type("controlplane:infra:RuntimeEnvironment")) == 2


def test_the_storage_account_takes_no_keys_no_public_blobs_and_only_https_tls_1_2(built: Built) -> None:
    account = built.mocks.one("storage:StorageAccount").inputs
    assert account["kind"] == "StorageV2"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert built.mocks.one("storage:BlobContainer").inputs["publicAccess"] == "None"


def test_the_state_and_task_hub_tables_exist_as_the_app_names_them(built: Built) -> None:
    assert list(STATE_TABLES) == TABLES
    assert json.loads((ROOT / "host.json").read_text())["extensions"]["durableTask"]["hubName"] == TASK_HUB
    tables = {table.inputs["tableName"] for table in built.mocks.of_type("storage:Table")}
    assert tables == {f"cp{table}" for table in TABLES} | set(TASK_HUB_TABLES)


def test_service_bus_accepts_entra_id_only_over_tls_1_2(built: Built) -> None:
    namespace = built.mocks.one("servicebus:Namespace").inputs
    assert namespace["disableLocalAuth"] is True
    assert namespace["minimumTlsVersion"] == "1.2"
    assert namespace["sku"]["name"] == "Standard"


def test_the_events_topic_drops_duplicate_publishes(built: Built) -> None:
    topic = built.mocks.one("servicebus:Topic").inputs
    assert topic["topicName"] == "events"
    assert topic["requiresDuplicateDetection"] is True
    assert re.fullmatch(r"PT\d+M", topic["duplicateDetectionHistoryTimeWindow"])


def test_each_subscription_replaces_its_default_rule_with_its_consumers_filter(built: Built) -> None:
    subscriptions = [s.inputs["subscriptionName"] for s in built.mocks.of_type("servicebus:Subscription")]
    assert sorted(subscriptions) == ["notifications", "scaling"]  # registered concurrently: any order
    rules = {rule.inputs["subscriptionName"]: rule.inputs for rule in built.mocks.of_type("servicebus:Rule")}
    assert set(rules) == set(subscriptions)
    assert all(rule["ruleName"] == "$Default" and rule["filterType"] == "SqlFilter" for rule in rules.values())
    assert rules["scaling"]["sqlFilter"]["sqlExpression"] == f"type = '{EventType.HEALTH_CHECK_COMPLETED}'"
    notified = rules["notifications"]["sqlFilter"]["sqlExpression"]
    assert notified.startswith("type IN (") and f"'{EventType.RUNTIME_DEPLOYMENT_COMPLETED}'" in notified


def test_every_subscription_locks_a_message_as_long_as_the_local_bus_does(built: Built) -> None:
    for subscription in built.mocks.of_type("servicebus:Subscription"):
        lock = subscription.inputs["lockDuration"]
        assert lock == iso8601_duration(LOCK_DURATION) == iso8601_duration(DEFAULT_LOCK_DURATION) == "PT1M"


def test_every_service_bus_trigger_of_the_app_has_its_subscription(built: Built) -> None:
    subscriptions = {("events", s.inputs["subscriptionName"]) for s in built.mocks.of_type("servicebus:Subscription")}
    for entry in product_app.index().of_type(SERVICE_BUS):
        assert (entry.trigger["topicName"], entry.trigger["subscriptionName"]) in subscriptions, entry.name
        assert f"{entry.trigger['connection']}__fullyQualifiedNamespace" in _settings(built)


def test_application_insights_is_workspace_based_and_refuses_keys(built: Built) -> None:
    insights = built.mocks.one("applicationinsights:Component").inputs
    workspace = built.mocks.one("operationalinsights:Workspace")
    assert insights["disableLocalAuth"] is True
    assert insights["ingestionMode"] == "LogAnalytics"
    assert insights["workspaceResourceId"] == workspace.id


def test_key_vault_authorizes_by_rbac_and_cannot_be_purged(built: Built) -> None:
    properties = built.mocks.one("keyvault:Vault").inputs["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enablePurgeProtection"] is True
    assert properties["tenantId"] == TENANT
    assert "accessPolicies" not in properties


def test_the_function_app_runs_python_3_11_on_flex_consumption_https_only(built: Built) -> None:
    plan = built.mocks.one("web:AppServicePlan").inputs
    assert (plan["sku"]["name"], plan["sku"]["tier"]) == ("FC1", "FlexConsumption")
    site = built.mocks.one("web:WebApp").inputs
    assert site["httpsOnly"] is True
    assert site["identity"]["type"] == "SystemAssigned"
    assert site["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    deployment = site["functionAppConfig"]["deployment"]["storage"]
    assert deployment["authentication"] == {"type": "SystemAssignedIdentity"}
    account = built.mocks.one("storage:StorageAccount").name
    assert deployment["value"] == f"https://{account}.blob.core.windows.net/app-package"
    assert site["siteConfig"]["minTlsVersion"] == "1.2"
    assert site["siteConfig"]["ftpsState"] == "Disabled"
    for policy in ("web:WebAppFtpAllowed", "web:WebAppScmAllowed"):
        assert built.mocks.one(policy).inputs["allow"] is False


def test_the_app_connects_by_identity_and_no_input_anywhere_carries_a_key(built: Built) -> None:
    settings = _settings(built)
    account = built.mocks.one("storage:StorageAccount").name
    assert settings["AzureWebJobsStorage__accountName"] == account
    assert settings["AzureWebJobsStorage__tableServiceUri"] == f"https://{account}.table.core.windows.net/"
    namespace = built.mocks.one("servicebus:Namespace").name
    assert settings["ServiceBusConnection__fullyQualifiedNamespace"] == f"{namespace}.servicebus.windows.net"
    assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"].startswith("InstrumentationKey=")
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD"
    assert "AzureWebJobsStorage" not in settings and "ServiceBusConnection" not in settings
    for declared in built.mocks.declared:
        for value in _strings(declared.inputs):
            assert "AccountKey=" not in value and "SharedAccessKey" not in value, declared.name


def test_the_app_is_told_where_each_environment_of_the_stack_runs(built: Built) -> None:
    settings = _settings(built)
    placements = json.loads(settings["CONTROLPLANE_ENVIRONMENTS"])
    parsed = Settings.from_environment({"CONTROLPLANE_STORAGE": "x", **settings}).azure  # the app's own parser
    assert set(parsed.environments) == set(placements) and placements
    for name, placement in parsed.environments.items():
        assert placement.resource_group == f"cp-env-{name}" and placement.subscription_id == SUBSCRIPTION
        assert placement.managed_environment_id or placement.cluster
    assert parsed.log_analytics_workspace_id == WORKSPACE_GUID


def test_the_app_gets_the_control_planes_settings_with_the_schedule_defaults(built: Built) -> None:
    settings = _settings(built)
    assert {name: settings[name] for name in SCHEDULE_DEFAULTS} == SCHEDULE_DEFAULTS
    assert settings["CONTROLPLANE_DESIRED_STATE"] == CONFIG["desiredState"]
    assert settings["CONTROLPLANE_DESIRED_STATE_PATH"] == "releases"
    assert settings["CONTROLPLANE_TABLE_PREFIX"] == "cp"
    for entry in product_app.index().of_type(TIMER):
        assert entry.trigger["schedule"].strip("%") in settings, entry.name


# --- least privilege ----------------------------------------------------------------------------------------


def test_the_apps_identity_gets_exactly_the_listed_roles_each_on_its_own_resource(built: Built) -> None:
    ids = {kind: built.mocks.one(kind).id for kind in _PROVIDER_TYPES if kind != "web:WebApp"}
    topic = built.mocks.one("servicebus:Topic").id
    granted = sorted(assignment for assignment in _assignments(built) if assignment[0] != "Contributor")
    assert granted == sorted(
        [
            ("Azure Service Bus Data Sender", topic),
            ("Azure Service Bus Data Receiver", topic),
            ("Storage Table Data Contributor", ids["storage:StorageAccount"]),
            ("Storage Queue Data Contributor", ids["storage:StorageAccount"]),
            ("Storage Blob Data Contributor", ids["storage:StorageAccount"]),
            ("Monitoring Reader", ids["operationalinsights:Workspace"]),
            ("Monitoring Metrics Publisher", ids["applicationinsights:Component"]),
            ("Key Vault Secrets User", ids["keyvault:Vault"]),
            ("Azure Kubernetes Service RBAC Writer", ids["containerservice:ManagedCluster"]),  # aks only
        ]
    )


def test_contributor_is_granted_only_on_the_environment_resource_groups(built: Built) -> None:
    environment_groups = {g.id for g in built.mocks.of_type("resources:ResourceGroup") if "-env-" in g.name}
    expected = environment_groups | {f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-runtime-staging"}
    assert {scope for role, scope in _assignments(built) if role == "Contributor"} == expected
    assert len(environment_groups) == 2


def test_no_role_is_owner_like_or_subscription_wide(built: Built) -> None:
    for role, scope in _assignments(built):
        assert role not in ("Owner", "User Access Administrator", "Role Based Access Control Administrator")
        assert re.match(rf"^/subscriptions/{SUBSCRIPTION}/resourceGroups/[^/]+", scope), (role, scope)


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (roles.CONTRIBUTOR, f"/subscriptions/{SUBSCRIPTION}"),
        (roles.MONITORING_READER, f"/subscriptions/{SUBSCRIPTION}/"),
        (roles.KEY_VAULT_SECRETS_USER, "/providers/Microsoft.Management/managementGroups/root"),
        (roles.OWNER, f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"),
        (roles.USER_ACCESS_ADMINISTRATOR, f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"),
        (roles.CONTRIBUTOR, f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Web/sites/app"),
    ],
)
def test_least_privilege_refuses_wide_scopes_and_role_granting_roles(role: roles.Role, scope: str) -> None:
    with pytest.raises(roles.LeastPrivilegeViolation, match=role.name):
        roles.check_scope(role, scope)


def test_least_privilege_allows_resource_groups_and_resources() -> None:
    group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
    assert roles.check_scope(roles.CONTRIBUTOR, group) == group
    vault = f"{group}/providers/Microsoft.KeyVault/vaults/kv"
    assert roles.check_scope(roles.KEY_VAULT_SECRETS_USER, vault) == vault


# --- the environment component --------------------------------------------------------------------------------


def test_a_container_apps_environment_sends_its_logs_to_the_workspace_without_its_key(built: Built) -> None:
    environment = built.mocks.one("app:ManagedEnvironment")
    assert environment.inputs["appLogsConfiguration"] == {"destination": "azure-monitor"}
    (diagnostics,) = built.mocks.of_type("monitor:DiagnosticSetting")
    assert diagnostics.inputs["resourceUri"] == environment.id
    assert diagnostics.inputs["workspaceId"] == built.mocks.one("operationalinsights:Workspace").id


def test_an_aks_environment_uses_entra_id_azure_rbac_oidc_and_workload_identity(built: Built) -> None:
    cluster = built.mocks.one("containerservice:ManagedCluster").inputs
    assert cluster["aadProfile"]["managed"] is True
    assert cluster["aadProfile"]["enableAzureRBAC"] is True
    assert cluster["aadProfile"]["adminGroupObjectIDs"] == CONFIG["aksAdminGroupObjectIds"]
    assert cluster["disableLocalAccounts"] is True
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert cluster["agentPoolProfiles"][0]["count"] == 3
    monitoring = cluster["addonProfiles"]["omsagent"]
    assert monitoring["config"]["useAADAuth"] == "true"
    assert (
        monitoring["config"]["logAnalyticsWorkspaceResourceID"] == built.mocks.one("operationalinsights:Workspace").id
    )


def test_an_unknown_environment_kind_is_refused_naming_it() -> None:
    args = RuntimeEnvironmentArgs(kind="k8s", resource_group_name="rg", location="x", log_analytics_workspace_id="w")
    with pytest.raises(ValueError, match='kind must be "containerapps" or "aks" \\(got \'k8s\'\\)'):
        RuntimeEnvironment("broken", args)


# --- outputs, config and the entry point ----------------------------------------------------------------------


def test_the_outputs_name_the_app_its_endpoints_and_the_environments(built: Built) -> None:
    outputs = built.outputs
    site = built.mocks.one("web:WebApp").name
    assert outputs["functionAppName"] == site
    assert outputs["functionAppHostname"] == f"{site}.azurewebsites.net"
    assert outputs["storageAccount"] == built.mocks.one("storage:StorageAccount").name
    assert outputs["serviceBusNamespace"].endswith(".servicebus.windows.net")
    assert outputs["eventsTopic"] == "events"
    assert outputs["keyVaultUri"].startswith("https://") and outputs["keyVaultUri"].endswith(".vault.azure.net/")
    assert outputs["environments"]["dev"]["kind"] == "containerapps"
    assert outputs["environments"]["dev"]["defaultDomain"].endswith("azurecontainerapps.io")
    assert outputs["environments"]["prod"]["oidcIssuerUrl"] == "https://oidc/"
    assert outputs["environmentResourceGroups"][-1] == "rg-runtime-staging"
    assert _sync_await(built.platform.stack_outputs["appInsightsConnectionString"].is_secret()) is True


def test_config_problems_are_reported_together_each_naming_its_key() -> None:
    with pytest.raises(InvalidConfig) as raised:
        settings_from_values(
            {
                "namePrefix": "Control-Plane",
                "scalingSchedule": "*/30 * * * *",
                "environments": [{"name": "dev", "kind": "k8s"}],
                "environmentResourceGroups": "rg-one",
            }
        )
    problems = "\n".join(raised.value.problems)
    for key in ("location", "desiredState", "namePrefix", "scalingSchedule", "environments[0].kind", "authClientId"):
        assert key in problems
    assert "environmentResourceGroups: a list of strings" in problems


def test_settings_default_to_what_the_app_itself_defaults_to() -> None:
    settings = settings_from_values({"location": "westeurope", "desiredState": "/repo", **APP_ID})
    assert settings.schedules == SCHEDULE_DEFAULTS
    assert (settings.table_prefix, settings.event_source, settings.desired_state_ref) == (
        "cp",
        "/runtime-control-plane",
        "HEAD",
    )
    assert settings.environments == () and settings.environment_resource_groups == ()


def test_the_entry_point_reads_the_stack_config_and_exports_the_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=False)
    pulumi.runtime.set_all_config(
        {
            "azure-native:location": "northeurope",
            f"{PROJECT}:desiredState": "/srv/desired-state",
            f"{PROJECT}:authClientId": CONFIG["authClientId"],
            f"{PROJECT}:environments": json.dumps([{"name": "dev", "kind": "containerapps"}]),
        }
    )
    try:
        pulumi.runtime.test(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")) and None)()
        exported = pulumi.runtime.get_root_resource().outputs
    finally:
        pulumi.runtime.set_all_config({})
    assert {"functionAppName", "functionAppHostname", "storageAccount", "serviceBusNamespace", "eventsTopic"} <= set(
        exported
    )
    assert {"appInsightsConnectionString", "keyVaultUri", "environments"} <= set(exported)
    assert {group.inputs["location"] for group in mocks.of_type("resources:ResourceGroup")} == {"northeurope"}
    assert len(mocks.of_type("app:ManagedEnvironment")) == 1


def test_without_environments_the_app_gets_no_contributor_anywhere() -> None:
    bare = build(settings_from_values({"location": "westeurope", "desiredState": "/srv/desired-state", **APP_ID}))
    assert [role for role, _ in _assignments(bare)].count("Contributor") == 0
    assert bare.mocks.of_type("controlplane:infra:RuntimeEnvironment") == []
    assert bare.outputs["environments"] == {} and bare.outputs["environmentResourceGroups"] == []


def test_the_environment_program_builds_the_environment_the_provisioner_configures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="runtime-environment", stack="dev", preview=False)
    workspace = "/subscriptions/s/resourceGroups/cp/providers/Microsoft.OperationalInsights/workspaces/cp-logs"
    pulumi.runtime.set_all_config(
        {
            "azure-native:location": "westeurope",
            "environment:name": "dev",
            "environment:kind": "containerapps",
            "environment:tier": "nonprod",
            "environment:resourceGroup": "cp-env-{name}",
            "environment:logAnalyticsWorkspaceId": workspace,
        }
    )
    try:
        program = ROOT / "infra" / "environment_program" / "__main__.py"
        pulumi.runtime.test(lambda: runpy.run_path(str(program)) and None)()
        exported = pulumi.runtime.get_root_resource().outputs
    finally:
        pulumi.runtime.set_all_config({})
    [managed] = mocks.of_type("app:ManagedEnvironment")
    assert managed.inputs["resourceGroupName"] == "cp-env-dev" and managed.inputs["location"] == "westeurope"
    assert "tier" in exported
