"""Wires adapters from settings. Nothing is built at import time; tests install fakes instead."""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.adapters.state_store import DocumentStateStore
from controlplane.config import Settings, load_settings
from controlplane.ports import StateStore


@dataclass(frozen=True)
class Services:
    """The adapters a function invocation works with."""

    settings: Settings
    store: StateStore


_services: Services | None = None


def build_state_store(settings: Settings) -> DocumentStateStore:
    """The Table-storage state store (Azurite for development storage), with its tables created."""
    from azure.data.tables import TableServiceClient

    from controlplane.adapters.table_documents import AzureTableDocuments

    if settings.storage_connection:
        service = TableServiceClient.from_connection_string(settings.storage_connection)
    else:
        from azure.identity import DefaultAzureCredential

        service = TableServiceClient(endpoint=settings.table_endpoint, credential=DefaultAzureCredential())
    store = DocumentStateStore(AzureTableDocuments(service, prefix=settings.table_prefix))
    store.create_tables()
    return store


def services() -> Services:
    """The process-wide services, built from settings on first use (a function host reuses its process)."""
    global _services
    if _services is None:
        settings = load_settings()
        _services = Services(settings=settings, store=build_state_store(settings))
    return _services


def use_services(replacement: Services | None) -> None:
    """Install ``replacement`` (tests, the local host) or, with None, go back to building from settings."""
    global _services
    _services = replacement
