"""Settings of the Azure adapters: where each environment runs, the Service Bus namespace, Log Analytics,
the Pulumi backend. Read only by ``Settings.from_environment`` (``controlplane.config``), which stays the
one reader of environment variables.

| setting | meaning | default |
|---|---|---|
| ``ServiceBusConnection__fullyQualifiedNamespace`` | the namespace events are published to (identity-based) | |
| ``CONTROLPLANE_TOPIC`` | the topic | ``events`` |
| ``CONTROLPLANE_ENVIRONMENTS`` | JSON: environment name -> where it runs (below) | ``{}`` |
| ``CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_ID`` | the workspace (its GUID) Application Insights writes to | |
| ``PULUMI_BACKEND_URL`` | the Pulumi state backend (``azblob://...``) of environment stacks | |
| ``CONTROLPLANE_PULUMI_WORK_DIR`` | the environment program | ``infra/environment_program`` |
| ``CONTROLPLANE_PULUMI_SECRETS_PROVIDER`` | e.g. ``azurekeyvault://<vault>.vault.azure.net/keys/<key>`` | |
| ``CONTROLPLANE_ENVIRONMENT_RESOURCE_GROUP`` | group of an environment the Provisioner builds | ``cp-env-{name}`` |
| ``CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_RESOURCE_ID`` | the workspace's ARM id, for environments' logs | |
| ``CONTROLPLANE_METRICS_ENDPOINT`` | platform metrics endpoint; ``{region}``: an environment's ``location`` | below |
| ``CONTROLPLANE_ANALYSIS_KQL_SELECTOR`` | KQL condition picking a revision's ``AppRequests`` | below |
| ``CONTROLPLANE_ANALYSIS_PROMQL_SELECTOR`` | PromQL label matchers picking a revision's series | below |
| ``CONTROLPLANE_ANALYSIS_PROMQL_STATUS_LABEL`` | the status-code label of ``http_requests_total`` | ``code`` |

``CONTROLPLANE_ENVIRONMENTS``, for example::

    {"dev":  {"compute": "containerapps", "subscriptionId": "...", "resourceGroup": "cp-env-dev",
              "managedEnvironmentId": "/subscriptions/.../managedEnvironments/dev", "location": "westeurope"},
     "prod": {"compute": "aks", "subscriptionId": "...", "resourceGroup": "cp-env-prod", "cluster": "prod"}}

Defaults: ``METRICS_ENDPOINT``, ``KQL_SELECTOR`` and ``PROMQL_SELECTOR`` below. The analysis selectors fill in
``{environment}``, ``{service}`` and ``{revision}``, escaped for a quoted string (write the quotes around them).
The KQL default matches a revision's replicas: Container Apps replicas and AKS pods are named
``<revision>-<suffix>`` and Application Insights records the host name as ``AppRoleInstance`` (set
``OTEL_SERVICE_NAME`` to the service for ``AppRoleName``). The PromQL default matches the AKS adapter's pod
labels as a ``labelmap`` relabeling of ``__meta_kubernetes_pod_label_(.+)`` names them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from controlplane.errors import FieldError

COMPUTES = ("containerapps", "aks")
METRICS_ENDPOINT = "https://{region}.metrics.monitor.azure.com"
KQL_SELECTOR = "AppRoleName == '{service}' and AppRoleInstance startswith '{revision}-'"
PROMQL_SELECTOR = (
    'namespace="{environment}",app_kubernetes_io_name="{service}",controlplane_azure_revision="{revision}"'
)


@dataclass(frozen=True)
class Placement:
    """Where one environment runs: the compute kind, its subscription and resource group, and its runtime."""

    compute: str
    subscription_id: str
    resource_group: str
    location: str = ""
    managed_environment_id: str = ""  # containerapps
    cluster: str = ""  # aks


@dataclass(frozen=True)
class AzureSettings:
    service_bus_namespace: str | None = None
    topic: str = "events"
    environments: Mapping[str, Placement] = field(default_factory=dict)
    log_analytics_workspace_id: str | None = None
    pulumi_backend_url: str | None = None
    pulumi_work_dir: str = "infra/environment_program"
    pulumi_secrets_provider: str | None = None
    environment_resource_group: str = "cp-env-{name}"
    log_analytics_workspace_resource_id: str | None = None
    metrics_endpoint: str = METRICS_ENDPOINT
    analysis_kql_selector: str = KQL_SELECTOR
    analysis_promql_selector: str = PROMQL_SELECTOR
    analysis_promql_status_label: str = "code"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], errors: list[FieldError]) -> AzureSettings:
        """Parse the Azure settings; bad ones are added to ``errors``, each naming its setting."""
        return cls(
            service_bus_namespace=environ.get("ServiceBusConnection__fullyQualifiedNamespace") or None,
            topic=environ.get("CONTROLPLANE_TOPIC") or "events",
            environments=MappingProxyType(_placements(environ.get("CONTROLPLANE_ENVIRONMENTS"), errors)),
            log_analytics_workspace_id=environ.get("CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_ID") or None,
            pulumi_backend_url=environ.get("PULUMI_BACKEND_URL") or None,
            pulumi_work_dir=environ.get("CONTROLPLANE_PULUMI_WORK_DIR") or "infra/environment_program",
            pulumi_secrets_provider=environ.get("CONTROLPLANE_PULUMI_SECRETS_PROVIDER") or None,
            environment_resource_group=environ.get("CONTROLPLANE_ENVIRONMENT_RESOURCE_GROUP") or "cp-env-{name}",
            log_analytics_workspace_resource_id=environ.get("CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_RESOURCE_ID") or None,
            metrics_endpoint=_template(environ, "CONTROLPLANE_METRICS_ENDPOINT", METRICS_ENDPOINT, errors, "region"),
            analysis_kql_selector=_template(environ, "CONTROLPLANE_ANALYSIS_KQL_SELECTOR", KQL_SELECTOR, errors),
            analysis_promql_selector=_template(
                environ, "CONTROLPLANE_ANALYSIS_PROMQL_SELECTOR", PROMQL_SELECTOR, errors
            ),
            analysis_promql_status_label=environ.get("CONTROLPLANE_ANALYSIS_PROMQL_STATUS_LABEL") or "code",
        )


def _template(environ: Mapping[str, str], name: str, default: str, errors: list[FieldError], *fields: str) -> str:
    """A setting with ``{placeholders}``: refused (and the default kept) if it names any but ``fields``."""
    text = environ.get(name) or default
    allowed = fields or ("environment", "service", "revision")
    try:
        text.format(**dict.fromkeys(allowed, ""))
    except (KeyError, IndexError, ValueError) as error:
        shown = ", ".join("{" + field + "}" for field in allowed)
        errors.append(FieldError(name, f"may use only {shown} (got {text!r}: {error!r})"))
        return default
    return text


def _placements(text: str | None, errors: list[FieldError]) -> dict[str, Placement]:
    if not text:
        return {}
    name = "CONTROLPLANE_ENVIRONMENTS"
    try:
        document: Any = json.loads(text)
    except ValueError as error:
        errors.append(FieldError(name, f"must be a JSON object of environments ({error})"))
        return {}
    if not isinstance(document, dict):
        errors.append(FieldError(name, "must be a JSON object: environment name -> placement"))
        return {}
    placements = {}
    for environment, value in document.items():
        placement = _placement(f"{name}.{environment}", value, errors)
        if placement is not None:
            placements[environment] = placement
    return placements


def _placement(path: str, value: Any, errors: list[FieldError]) -> Placement | None:
    if not isinstance(value, dict):
        errors.append(FieldError(path, "must be an object with compute, subscriptionId and resourceGroup"))
        return None
    problems = []
    compute = value.get("compute")
    if compute not in COMPUTES:
        problems.append(FieldError(f"{path}.compute", f"must be one of {', '.join(COMPUTES)} (got {compute!r})"))
    needed = ["subscriptionId", "resourceGroup"]
    needed += ["managedEnvironmentId"] if compute == "containerapps" else ["cluster"] if compute == "aks" else []
    for key in needed:
        if not isinstance(value.get(key), str) or not value[key]:
            problems.append(FieldError(f"{path}.{key}", "required (a non-empty string)"))
    errors.extend(problems)
    if problems:
        return None
    return Placement(
        compute=value["compute"],
        subscription_id=value["subscriptionId"],
        resource_group=value["resourceGroup"],
        location=value.get("location", ""),
        managed_environment_id=value.get("managedEnvironmentId", ""),
        cluster=value.get("cluster", ""),
    )
