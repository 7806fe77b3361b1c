"""The Durable storage provider the app selects (funchost/storage_provider.py): host.json's
``extensions.durableTask.storageProvider`` with the ``AzureFunctionsJobHost__...`` app settings over it, as the
Functions host merges them; an unknown provider refuses start-up in the extension's words; the Durable Task
Scheduler (``azureManaged``) is accepted and the local engine stands in for it, saying so once."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from funchost.host_json import InvalidHostJson, overridden_section
from funchost.settings import task_hub
from funchost.storage_provider import (
    AZURE_STORAGE,
    DURABLE_TASK_SCHEDULER,
    StorageProvider,
    announce_stand_in,
    storage_provider,
)

OVERRIDE = "AzureFunctionsJobHost__extensions__durableTask__"
# What infra/durable_backend.py gives the Function App when the stack selects the scheduler.
SCHEDULER_SETTINGS = {
    f"{OVERRIDE}storageProvider__type": "azureManaged",
    f"{OVERRIDE}storageProvider__connectionStringName": "DURABLE_TASK_SCHEDULER_CONNECTION_STRING",
    f"{OVERRIDE}hubName": "ControlPlane",
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING": "Endpoint=https://cp-dts.westeurope.durabletask.io;"
    "Authentication=ManagedIdentity",
}


def root_with(tmp_path: Path, durable_task: dict[str, Any]) -> Path:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": durable_task}}))
    return tmp_path


def test_without_a_storage_provider_the_app_runs_on_azure_storage_and_nothing_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = root_with(tmp_path, {"hubName": "ControlPlane"})
    provider = storage_provider(root, {})
    with caplog.at_level(logging.INFO):
        announce_stand_in(provider, "ControlPlane", {})
    assert provider == StorageProvider(AZURE_STORAGE) and not provider.stood_in_for
    assert caplog.records == []


def test_the_app_settings_select_the_scheduler_over_host_json_and_the_hub_name_with_it(tmp_path: Path) -> None:
    root = root_with(tmp_path, {"hubName": "LocalHub", "storageProvider": {"type": "AzureStorage"}})

    provider = storage_provider(root, SCHEDULER_SETTINGS)

    assert provider == StorageProvider(DURABLE_TASK_SCHEDULER, "DURABLE_TASK_SCHEDULER_CONNECTION_STRING")
    assert provider.stood_in_for
    assert task_hub(root, SCHEDULER_SETTINGS) == "ControlPlane"  # the override, not host.json's LocalHub
    assert task_hub(root, {}) == "LocalHub"


def test_an_override_replaces_one_key_and_keeps_host_json_s_others_in_any_case(tmp_path: Path) -> None:
    root = root_with(tmp_path, {"storageProvider": {"type": "AzureStorage", "partitionCount": 3}})
    settings = {"azurefunctionsjobhost__EXTENSIONS__durabletask__StorageProvider__TYPE": "AZUREMANAGED"}

    section = overridden_section(root, ("extensions", "durableTask", "storageProvider"), settings)

    assert section == {"type": "AZUREMANAGED", "partitioncount": 3}
    assert storage_provider(root, settings).type == DURABLE_TASK_SCHEDULER  # factory names match in any case


def test_an_unknown_provider_refuses_start_up_in_the_extension_s_words(tmp_path: Path) -> None:
    root = root_with(tmp_path, {})
    with pytest.raises(InvalidHostJson) as refused:
        storage_provider(root, {f"{OVERRIDE}storageProvider__type": "azureManged"})
    (error,) = refused.value.errors
    assert error.path == "extensions.durableTask.storageProvider.type"
    assert error.reason.startswith("Storage provider type (azureManged) was not found. Available storage providers: ")
    assert "azureManaged" in error.reason and "AzureStorage" in error.reason


def test_the_stand_in_is_announced_once_naming_the_scheduler_the_hub_and_the_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    provider = storage_provider(root_with(tmp_path, {}), SCHEDULER_SETTINGS)
    with caplog.at_level(logging.INFO):
        announce_stand_in(provider, "ControlPlane", SCHEDULER_SETTINGS)
        announce_stand_in(provider, "ControlPlane", {})
    first, second = (record.getMessage() for record in caplog.records)
    assert first == (
        "durableTask storageProvider azureManaged selects the Durable Task Scheduler; the local host stands in for "
        "it with its own engine on the app's storage (task hub ControlPlane, connection "
        "DURABLE_TASK_SCHEDULER_CONNECTION_STRING (set here, not used))"
    )
    assert "DURABLE_TASK_SCHEDULER_CONNECTION_STRING (not set here, not used)" in second
