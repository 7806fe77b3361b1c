"""The Function App's ports in Azure are built from settings alone, by identity, without touching the network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlplane.adapters.azure.aks.compute import AksCompute
from controlplane.adapters.azure.container_apps.compute import ContainerAppsCompute
from controlplane.adapters.azure.monitor.metrics import AzureMonitorMetrics
from controlplane.adapters.azure.placed.provisioner import PlacedEnvironments
from controlplane.adapters.azure.pulumi.provisioner import PulumiProvisioner
from controlplane.adapters.azure.servicebus.event_bus import ServiceBusEventBus
from controlplane.adapters.by_environment.compute import ComputeByEnvironment
from controlplane.adapters.by_provider import AnalysisByProvider
from controlplane.adapters.git.desired_state import GitDesiredState
from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap.azure import azure_ports
from controlplane.config import Settings
from controlplane.domain.analysis import MetricQuery
from controlplane.domain.manifest import Release, parse_release
from controlplane.errors import InvalidInput, NotFound, PermanentError
from controlplane.testing.fakes import RecordingProvisioner
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_documents import MemoryDocumentTables
from tests.builders import release_document

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = {
    "dev": {
        "compute": "containerapps",
        "subscriptionId": "00000000-0000-0000-0000-000000000001",
        "resourceGroup": "cp-env-dev",
        "managedEnvironmentId": "/subscriptions/s/resourceGroups/dev/providers/Microsoft.App/managedEnvironments/d",
        "location": "westeurope",
    },
    "prod": {"compute": "aks", "subscriptionId": "s", "resourceGroup": "cp-env-prod", "cluster": "prod"},
}
AZURE = {
    "AzureWebJobsStorage__tableServiceUri": "https://cpstate.table.core.windows.net/",
    "ServiceBusConnection__fullyQualifiedNamespace": "cp-bus.servicebus.windows.net",
    "CONTROLPLANE_ENVIRONMENTS": json.dumps(ENVIRONMENTS),
    "CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_ID": "00000000-0000-0000-0000-00000000c0de",
    "PULUMI_BACKEND_URL": "azblob://state?storage_account=cpstate",
    "CONTROLPLANE_DESIRED_STATE": "https://github.com/contoso/desired-state.git",
}


def store() -> Stores:
    return Stores.over(MemoryDocumentTables())


def test_every_port_gets_its_azure_adapter_from_settings() -> None:
    wired = azure_ports(Settings.from_environment(AZURE), root=ROOT, store=store())

    assert isinstance(wired.events, ServiceBusEventBus)
    assert isinstance(wired.compute, ComputeByEnvironment)
    assert isinstance(wired.compute.of("dev"), ContainerAppsCompute)
    assert isinstance(wired.compute.of("prod"), AksCompute)
    assert isinstance(wired.metrics, AzureMonitorMetrics)
    assert isinstance(wired.analysis, AnalysisByProvider)
    assert isinstance(wired.provisioner, PulumiProvisioner)
    assert isinstance(wired.desired_state, GitDesiredState)
    with pytest.raises(NotFound, match="CONTROLPLANE_ENVIRONMENTS"):
        wired.compute.inventory("staging")


def test_a_port_without_settings_says_which_setting_is_missing() -> None:
    minimal = {"AzureWebJobsStorage__tableServiceUri": AZURE["AzureWebJobsStorage__tableServiceUri"]}
    wired = azure_ports(Settings.from_environment(minimal), root=ROOT, store=store())
    with pytest.raises(PermanentError, match="desired state"):
        _ = wired.desired_state
    with pytest.raises(PermanentError, match="event bus"):
        _ = wired.events


def test_a_port_given_by_keyword_is_used_instead_of_the_one_settings_would_build() -> None:
    compute, provisioner = MemoryCompute(), RecordingProvisioner()
    wired = azure_ports(
        Settings.from_environment(AZURE), root=ROOT, store=store(), compute=compute, provisioner=provisioner
    )

    assert wired.compute is compute and wired.provisioner is provisioner
    assert isinstance(wired.health, HttpHealthProbe)  # still over the environments' own endpoints
    assert isinstance(wired.events, ServiceBusEventBus)


def test_without_a_pulumi_backend_releases_go_to_the_environments_the_platform_built() -> None:
    settings = {k: v for k, v in AZURE.items() if k != "PULUMI_BACKEND_URL"}
    provisioner = azure_ports(Settings.from_environment(settings), root=ROOT, store=store()).provisioner
    assert isinstance(provisioner, PlacedEnvironments)

    outputs = provisioner.ensure_environment(release("dev", "containerapps"))
    assert outputs.outputs["resourceGroup"] == "cp-env-dev" and outputs.changed is False
    assert provisioner.outputs("prod").outputs["cluster"] == "prod"
    with pytest.raises(PermanentError, match=r"spec\.environment\.compute: .dev. runs containerapps"):
        provisioner.ensure_environment(release("dev", "aks"))
    with pytest.raises(PermanentError, match=r"spec\.environment\.name: .staging. is not an environment"):
        provisioner.ensure_environment(release("staging", "aks"))
    with pytest.raises(NotFound):
        provisioner.outputs("staging")


def test_analysis_routes_by_provider_and_says_the_router_is_local_only() -> None:
    analysis = azure_ports(Settings.from_environment(AZURE), root=ROOT, store=store()).analysis
    query = MetricQuery("errors", "router", None, "dev", "orders", "orders--abc", 60, builtin="requestSuccessRate")

    measurement = analysis.measure(query)  # no network: the router has no adapter on Azure

    assert measurement.value is None
    assert measurement.error == "the router provider only runs on local compute"


def test_the_metrics_endpoint_follows_the_environments_region() -> None:
    wired = azure_ports(Settings.from_environment(AZURE), root=ROOT, store=store())
    metrics = wired.metrics
    assert isinstance(metrics, AzureMonitorMetrics)

    assert metrics._settings.metrics_endpoint == "https://{region}.metrics.monitor.azure.com"
    resources = metrics._settings.resources_of("dev", "orders")
    assert resources is not None and resources.region == "westeurope"
    assert metrics._settings.resources_of("prod", "orders") is None  # AKS: rps only


def test_analysis_and_metrics_settings_refuse_unknown_placeholders() -> None:
    bad = {
        **AZURE,
        "CONTROLPLANE_METRICS_ENDPOINT": "https://{location}.metrics.monitor.azure.com",
        "CONTROLPLANE_ANALYSIS_KQL_SELECTOR": "AppRoleName == '{app}'",
    }
    with pytest.raises(InvalidInput) as raised:
        Settings.from_environment(bad)
    text = str(raised.value)
    assert "CONTROLPLANE_METRICS_ENDPOINT: may use only {region}" in text
    assert "CONTROLPLANE_ANALYSIS_KQL_SELECTOR: may use only {environment}, {service}, {revision}" in text


def release(environment: str, compute: str) -> Release:
    document = release_document(environment)
    document["spec"]["environment"].update({"compute": compute, "region": "westeurope"})
    return parse_release(document)
