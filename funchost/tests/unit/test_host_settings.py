"""The task hub that host.json names and the host id that scopes the host's tables, read as Azure reads them.

``hubName`` resolves ``%SETTING%`` references as the Durable extension does (``DurableTaskExtension``:
``nameResolver.TryResolveWholeString(Options.HubName)``, Azure/azure-functions-durable-extension) and the Azure
Storage provider refuses a name that is no table, container and queue name (``AzureStorageOptions.ValidateHubName``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from funchost.errors import PermanentError
from funchost.host_json import InvalidHostJson
from funchost.settings import DEFAULT_HUB, HOST_ID, host_table_prefix, task_hub


def root_with_hub(tmp_path: Path, hub_name: str) -> Path:
    host_json = {"version": "2.0", "extensions": {"durableTask": {"hubName": hub_name}}}
    (tmp_path / "host.json").write_text(json.dumps(host_json))
    return tmp_path


@pytest.mark.parametrize(
    ("hub_name", "settings", "hub"),
    [
        ("Orders", {}, "Orders"),
        ("%TASK_HUB%", {"TASK_HUB": "Blue"}, "Blue"),
        ("%task_hub%", {"TASK_HUB": "Blue"}, "Blue"),  # setting names match in any case
        ("%Hubs:Orders%", {"Hubs__Orders": "Green"}, "Green"),
        ("Orders%SLOT%", {"SLOT": "Staging"}, "OrdersStaging"),
    ],
)
def test_host_json_hub_name_resolves_app_setting_references(
    tmp_path: Path, hub_name: str, settings: dict[str, str], hub: str
) -> None:
    assert task_hub(root_with_hub(tmp_path, hub_name), settings) == hub


def test_without_a_hub_name_the_hub_is_the_extensions_default(tmp_path: Path) -> None:
    assert task_hub(tmp_path, {}) == DEFAULT_HUB == "TestHubName"


@pytest.mark.parametrize(
    ("hub_name", "settings", "refused"),
    [
        ("%TASK_HUB%", {}, "%TASK_HUB%"),  # unresolved: the name stays as written, and is no valid name
        ("%TASK_HUB%", {"TASK_HUB": "blue-green"}, "blue-green"),
        ("7Hub", {}, "7Hub"),
        ("Hb", {}, "Hb"),
    ],
)
def test_a_hub_name_the_storage_provider_refuses_is_refused_in_its_words(
    tmp_path: Path, hub_name: str, settings: dict[str, str], refused: str
) -> None:
    with pytest.raises(InvalidHostJson) as error:
        task_hub(root_with_hub(tmp_path, hub_name), settings)
    assert [(e.path, e.reason) for e in error.value.errors] == [
        (
            "extensions.durableTask.hubName",
            f"Task hub name '{refused}' should contain only alphanumeric characters, start with a letter, and have "
            "length between 3 and 45.",
        )
    ]


@pytest.mark.parametrize(
    ("settings", "prefix"),
    [
        ({}, ""),
        ({HOST_ID: "orders-api-weu"}, "ordersapiweu"),  # table names have no dashes
        ({"AZUREFUNCTIONSWEBHOST__HOSTID": "orders"}, "orders"),
        ({HOST_ID: "7-orders"}, "t7orders"),  # table names start with a letter
    ],
)
def test_the_tables_of_a_host_are_prefixed_by_its_host_id(settings: dict[str, str], prefix: str) -> None:
    assert host_table_prefix(settings) == prefix


@pytest.mark.parametrize("host_id", ["Orders", "orders_api", "-orders", "a" * 33])
def test_a_host_id_azure_would_not_take_is_refused(host_id: str) -> None:
    with pytest.raises(PermanentError, match=HOST_ID):
        host_table_prefix({HOST_ID: host_id})
