"""Wires adapters from settings. Nothing is built at import time; tests install fakes instead."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from controlplane.adapters.azure.monitor import telemetry as telemetry_setup
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.config import Settings, load_settings
from controlplane.errors import PermanentError
from controlplane.ports import Compute, DesiredState, EventBus, HealthProbe, Metrics, Provisioner

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient


@dataclass(frozen=True)
class Services:
    """The adapters a function invocation works with."""

    settings: Settings
    store: Stores
    event_bus: EventBus | None = None
    compute_port: Compute | None = None
    health_probe: HealthProbe | None = None
    provisioner_port: Provisioner | None = None
    desired_state_port: DesiredState | None = None
    metrics_port: Metrics | None = None

    @property
    def events(self) -> EventBus:
        """The event bus; the local host installs its local Service Bus here."""
        return _configured(self.event_bus, "event bus")

    @property
    def compute(self) -> Compute:
        return _configured(self.compute_port, "compute")

    @property
    def health(self) -> HealthProbe:
        return _configured(self.health_probe, "health probe")

    @property
    def provisioner(self) -> Provisioner:
        return _configured(self.provisioner_port, "provisioner")

    @property
    def desired_state(self) -> DesiredState:
        return _configured(self.desired_state_port, "desired state (CONTROLPLANE_DESIRED_STATE)")

    @property
    def metrics(self) -> Metrics:
        return _configured(self.metrics_port, "metrics")


def _configured(adapter, name: str):
    if adapter is None:
        raise PermanentError(
            f"no {name} is configured: set its settings (see README, Settings) or run under the local host "
            "(python -m controlplane up)"
        )
    return adapter


_services: Services | None = None
APP_ROOT = Path(__file__).resolve().parents[2]


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
    from azure.identity import DefaultAzureCredential

    return TableServiceClient(
        endpoint=settings.table_endpoint, credential=DefaultAzureCredential(), transport=transport
    )


def build_stores(settings: Settings) -> Stores:
    """The stored records on Table storage (Azurite for development storage), with their tables created."""
    from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments

    tables = AzureTableDocuments(table_service(settings), prefix=settings.table_prefix)
    create_tables(tables)
    return Stores.over(tables)


def services() -> Services:
    """The process-wide services, built from settings on first use (a function host reuses its process):
    the Azure adapters (``controlplane.bootstrap.azure``); the local host installs its own."""
    global _services
    if _services is None:
        settings = load_settings()
        telemetry_setup.configure(settings)
        from controlplane.bootstrap.azure import build_azure_services

        _services = build_azure_services(settings, build_stores(settings), APP_ROOT)
    return _services


def use_services(replacement: Services | None) -> None:
    """Install ``replacement`` (tests, the local host) or, with None, go back to building from settings."""
    global _services
    _services = replacement
