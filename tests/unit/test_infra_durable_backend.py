"""The Durable backend the stack selects (infra/durable_backend.py), on Pulumi's mocks: Azure Storage by default,
with nothing of the scheduler declared; the Durable Task Scheduler on ``durableBackend: durableTaskScheduler``,
with its task hub, the app settings that override host.json's provider, and the identity's role on the hub.
What the Functions host (and the local host, funchost/storage_provider.py) reads from those settings is checked
through the local host's own reader."""

from __future__ import annotations

import json
import runpy
import sys

import pulumi
import pytest

from funchost.settings import task_hub
from funchost.storage_provider import DURABLE_TASK_SCHEDULER, StorageProvider, storage_provider
from infra import roles
from infra.durable_backend import (
    CONNECTION_NAME_SETTING,
    CONNECTION_SETTING,
    HUB_NAME_SETTING,
    PROVIDER_TYPE_SETTING,
    SchedulerSpec,
)
from infra.settings import InvalidConfig, settings_from_values
from infra.state_storage import TASK_HUB, TASK_HUB_TABLES
from tests.unit.test_infra_pulumi import (  # noqa: F401  (current_event_loop: the module-wide fixture)
    CONFIG,
    PRINCIPAL,
    PROJECT,
    ROOT,
    SUBSCRIPTION,
    Built,
    RecordingMocks,
    _assignments,
    _settings,
    build,
    current_event_loop,
)

pytestmark = pytest.mark.slow  # Pulumi's runtime and the Azure Native SDK take seconds to load

SCHEDULER = {**CONFIG, "durableBackend": "durableTaskScheduler"}
DTS_SETTINGS = {PROVIDER_TYPE_SETTING, CONNECTION_NAME_SETTING, HUB_NAME_SETTING, CONNECTION_SETTING}


@pytest.fixture(scope="module")
def on_storage() -> Built:
    return build(settings_from_values(CONFIG))


@pytest.fixture(scope="module")
def on_scheduler() -> Built:
    return build(settings_from_values(SCHEDULER))


def test_by_default_the_task_hub_stays_in_azure_storage_and_no_scheduler_is_declared(on_storage: Built) -> None:
    assert on_storage.mocks.of_type("durabletask:Scheduler") == []
    assert on_storage.mocks.of_type("durabletask:TaskHub") == []
    settings = _settings(on_storage)
    assert not DTS_SETTINGS & set(settings)
    assert not [name for name in settings if name.lower().startswith("azurefunctionsjobhost__")]
    tables = {table.inputs["tableName"] for table in on_storage.mocks.of_type("storage:Table")}
    assert set(TASK_HUB_TABLES) <= tables
    granted = [role for role, _ in _assignments(on_storage)]
    assert "Storage Queue Data Contributor" in granted and "Durable Task Data Contributor" not in granted
    assert on_storage.outputs["durableBackend"] == "azureStorage"
    assert "durableTaskSchedulerEndpoint" not in on_storage.outputs


def test_the_scheduler_is_consumption_by_default_and_its_hub_is_named_as_host_json_names_it(
    on_scheduler: Built,
) -> None:
    scheduler = on_scheduler.mocks.one("durabletask:Scheduler")
    assert scheduler.inputs["resourceGroupName"] == "cp-platform"  # the platform's own group
    assert scheduler.inputs["location"] == "westeurope"
    assert scheduler.inputs["properties"] == {"sku": {"name": "Consumption"}, "ipAllowlist": ["0.0.0.0/0"]}
    hub = on_scheduler.mocks.one("durabletask:TaskHub")
    assert hub.inputs["schedulerName"] == scheduler.name
    host_json = json.loads((ROOT / "host.json").read_text())
    assert hub.inputs["taskHubName"] == TASK_HUB == host_json["extensions"]["durableTask"]["hubName"]


def test_the_app_settings_select_the_scheduler_over_host_json_with_an_identity_connection(
    on_scheduler: Built,
) -> None:
    settings = _settings(on_scheduler)
    scheduler = on_scheduler.mocks.one("durabletask:Scheduler").name
    assert settings[PROVIDER_TYPE_SETTING] == "azureManaged"
    assert settings[CONNECTION_NAME_SETTING] == CONNECTION_SETTING == "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"
    assert settings[HUB_NAME_SETTING] == TASK_HUB
    # System-assigned identity: no ClientID, and never a key.
    endpoint = f"https://{scheduler}.westeurope.durabletask.io"
    assert settings[CONNECTION_SETTING] == f"Endpoint={endpoint};Authentication=ManagedIdentity"
    assert on_scheduler.outputs["durableBackend"] == "durableTaskScheduler"
    assert on_scheduler.outputs["durableTaskSchedulerEndpoint"] == endpoint
    assert on_scheduler.outputs["durableTaskHubDashboardUrl"].startswith("https://dashboard.durabletask.io/")


def test_the_functions_host_reads_the_scheduler_and_the_hub_from_those_settings(on_scheduler: Built) -> None:
    settings = _settings(on_scheduler)
    provider = storage_provider(ROOT, settings)  # the project's host.json with the settings over it
    assert provider == StorageProvider(DURABLE_TASK_SCHEDULER, CONNECTION_SETTING)
    assert task_hub(ROOT, settings) == TASK_HUB


def test_the_apps_identity_gets_durable_task_data_contributor_on_the_task_hub_only(on_scheduler: Built) -> None:
    hub = on_scheduler.mocks.one("durabletask:TaskHub")
    contributor = [a for a in on_scheduler.mocks.of_type("authorization:RoleAssignment") if "durable" in a.name]
    (assignment,) = contributor
    assert assignment.inputs["principalId"] == PRINCIPAL
    assert assignment.inputs["scope"] == hub.id
    assert assignment.inputs["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        "0ad04412-c4d5-4796-b79c-f76d14c8d402"
    )
    assert roles.DURABLE_TASK_DATA_CONTRIBUTOR.guid == "0ad04412-c4d5-4796-b79c-f76d14c8d402"


def test_on_the_scheduler_storage_keeps_no_task_hub_and_the_app_no_queue_rights(on_scheduler: Built) -> None:
    tables = {table.inputs["tableName"] for table in on_scheduler.mocks.of_type("storage:Table")}
    assert not set(TASK_HUB_TABLES) & tables and "cpDeployments" in tables
    granted = {role for role, _ in _assignments(on_scheduler)}
    assert "Storage Queue Data Contributor" not in granted
    assert {"Storage Table Data Contributor", "Storage Blob Data Contributor"} <= granted  # state, host, package


def test_a_dedicated_scheduler_takes_its_capacity_units() -> None:
    settings = settings_from_values(
        {**SCHEDULER, "durableTaskSchedulerSku": "Dedicated", "durableTaskSchedulerCapacity": "3"}
    )
    assert settings.durable_task_scheduler == SchedulerSpec("Dedicated", 3)
    dedicated = build(settings)
    sku = dedicated.mocks.one("durabletask:Scheduler").inputs["properties"]["sku"]
    assert sku == {"name": "Dedicated", "capacity": 3}


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"durableBackend": "netherite"}, "durableBackend: 'azureStorage' or 'durableTaskScheduler' (got 'netherite')"),
        ({"durableTaskSchedulerSku": "Dedicated"}, "durableTaskSchedulerSku: only with durableBackend"),
        (
            {"durableBackend": "durableTaskScheduler", "durableTaskSchedulerSku": "Premium"},
            "durableTaskSchedulerSku: 'Consumption' or 'Dedicated' (got 'Premium')",
        ),
        (
            {"durableBackend": "durableTaskScheduler", "durableTaskSchedulerCapacity": 2},
            "durableTaskSchedulerCapacity: capacity units are for the Dedicated SKU only",
        ),
        (
            {
                "durableBackend": "durableTaskScheduler",
                "durableTaskSchedulerSku": "Dedicated",
                "durableTaskSchedulerCapacity": 4,
            },
            "durableTaskSchedulerCapacity: 1 to 3 capacity units (got 4)",
        ),
    ],
)
def test_durable_backend_config_problems_name_the_key(values: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidConfig) as raised:
        settings_from_values({**CONFIG, **values})
    assert any(found.startswith(problem) for found in raised.value.problems), raised.value.problems


def test_the_entry_point_reads_the_durable_backend_from_the_stack_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=False)
    pulumi.runtime.set_all_config(
        {
            "azure-native:location": "northeurope",
            f"{PROJECT}:desiredState": "/srv/desired-state",
            f"{PROJECT}:authClientId": CONFIG["authClientId"],
            f"{PROJECT}:durableBackend": "durableTaskScheduler",
            f"{PROJECT}:durableTaskSchedulerSku": "Dedicated",
            f"{PROJECT}:durableTaskSchedulerCapacity": "2",
        }
    )
    try:
        pulumi.runtime.test(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")) and None)()
        exported = pulumi.runtime.get_root_resource().outputs
    finally:
        pulumi.runtime.set_all_config({})
    assert mocks.one("durabletask:Scheduler").inputs["properties"]["sku"] == {"name": "Dedicated", "capacity": 2}
    assert {"durableBackend", "durableTaskSchedulerEndpoint", "durableTaskHubDashboardUrl"} <= set(exported)
