"""The Durable storage provider an app selects, and what the local host does with it.

The Durable extension picks its backend from ``extensions.durableTask.storageProvider.type`` (host.json, or the
app setting ``AzureFunctionsJobHost__extensions__durableTask__storageProvider__type`` over it): none means Azure
Storage; otherwise the factory of that name, matched in any case, and a name no factory has stops the extension
("Storage provider type (X) was not found. Available storage providers: ...",
``DurableTaskExtension.GetDurabilityProviderFactory``, Azure/azure-functions-durable-extension). The extension
bundle 4.32 and later registers four: Azure Storage, MSSQL, Netherite and the Durable Task Scheduler
(``azureManaged``, https://learn.microsoft.com/azure/durable-task/scheduler/quickstart-durable-task-scheduler).

| configured type                         | Azure                          | local host                           |
|-----------------------------------------|--------------------------------|--------------------------------------|
| none, ``AzureStorage``                  | Azure Storage                  | its engine on the app's storage      |
| ``azureManaged`` (any case), ``mssql``… | that backend                   | its engine, and says so once         |
| anything else                           | the extension does not start   | refuses to start, in the same words  |

The local host never contacts a scheduler, a SQL database or Event Hubs: one engine on Azurite stands in for
every backend, so an app configured for the scheduler runs locally unchanged. It is never more lenient than the
backend, though: under ``azureManaged`` the engine holds payloads and instance ids to the scheduler's published
limits (``funchost/durable/backend_limits.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from funchost.errors import FieldError
from funchost.host_json import InvalidHostJson, overridden_section

log = logging.getLogger("funchost.host")

AZURE_STORAGE = "AzureStorage"
DURABLE_TASK_SCHEDULER = "azureManaged"
# The provider names the extension bundle's factories answer to (host.json ``storageProvider.type``).
PROVIDERS = (AZURE_STORAGE, "mssql", "Netherite", DURABLE_TASK_SCHEDULER)
_FIELD = "extensions.durableTask.storageProvider.type"


@dataclass(frozen=True)
class StorageProvider:
    """``type`` as the factory names it; ``connection`` the app setting naming its connection, if configured."""

    type: str = AZURE_STORAGE
    connection: str | None = None

    @property
    def stood_in_for(self) -> bool:
        """True when Azure would run another backend than Azure Storage, which the local engine stands in for."""
        return self.type != AZURE_STORAGE


def storage_provider(root: Path, app_settings: Mapping[str, str]) -> StorageProvider:
    """The provider of ``root/host.json`` with the app settings over it; InvalidHostJson in the extension's words
    when no factory has that name."""
    section = overridden_section(root, ("extensions", "durableTask", "storageProvider"), app_settings)
    configured = section.get("type")
    if configured is None or configured == "":
        return StorageProvider()
    by_name = {name.lower(): name for name in PROVIDERS}
    name = by_name.get(str(configured).lower())
    if name is None:
        reason = (
            f"Storage provider type ({configured}) was not found. Available storage providers: {', '.join(PROVIDERS)}."
        )
        raise InvalidHostJson([FieldError(_FIELD, reason)])
    connection = section.get("connectionstringname") or section.get("connectionname")
    return StorageProvider(name, str(connection) if connection else None)


def announce_stand_in(provider: StorageProvider, hub: str, app_settings: Mapping[str, str]) -> None:
    """Say once, at start-up, that the local engine stands in for the backend Azure would use."""
    if not provider.stood_in_for:
        return
    connection = "no connection configured"
    if provider.connection:
        configured = any(name.lower() == provider.connection.lower() for name in app_settings)
        connection = f"connection {provider.connection} ({'set' if configured else 'not set'} here, not used)"
    scheduler = provider.type == DURABLE_TASK_SCHEDULER
    backend = "the Durable Task Scheduler" if scheduler else f"the {provider.type} backend"
    log.info(
        "durableTask storageProvider %s selects %s; the local host stands in for it with its own engine on the "
        "app's storage (task hub %s, %s)",
        provider.type,
        backend,
        hub,
        connection,
    )
