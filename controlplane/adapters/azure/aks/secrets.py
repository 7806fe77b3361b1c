"""Key Vault references on AKS: Secrets Store CSI driver objects, never values. Pure functions.

Each Key Vault the revision references gets a ``SecretProviderClass`` ``<revision>-kv-<vault>`` (Azure
provider, the ``azureKeyvaultSecretsProvider`` add-on's user-assigned identity) listing object names and
versions, mounted read-only at ``/mnt/secrets/<vault>``. The container gets, per secret ``NAME``:

    variable              | value
    ----------------------+---------------------------------------------------------------
    NAME_SECRET_URI       | the Key Vault reference (as local processes get it)
    NAME_SECRET_FILE      | /mnt/secrets/<vault>/NAME, the file the driver mounts

No Kubernetes Secret is created (the driver's ``secretObjects`` sync is not used), so a value exists only
in the pod's tmpfs mount, and nothing the control plane sends contains one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from controlplane.domain.runtime import RevisionSpec
from controlplane.errors import PermanentError

CSI_GROUP = "secrets-store.csi.x-k8s.io"
SECRETS_ROOT = "/mnt/secrets"
_CLOUDS = {
    "vault.azure.net": "AzurePublicCloud",
    "vault.azure.cn": "AzureChinaCloud",
    "vault.usgovcloudapi.net": "AzureUSGovernmentCloud",
    "vault.microsoftazure.de": "AzureGermanCloud",
}


@dataclass(frozen=True)
class SecretsStoreIdentity:
    """Who the Secrets Store CSI driver reads Key Vault as: the ``azureKeyvaultSecretsProvider`` add-on's
    user-assigned identity (client id) in ``tenant_id``; it needs "Key Vault Secrets User" on each vault."""

    tenant_id: str
    client_id: str


def require_identity(spec: RevisionSpec, identity: SecretsStoreIdentity | None) -> None:
    if spec.secret_refs and identity is None:
        raise PermanentError(
            f"{spec.environment}/{spec.service}: revision {spec.revision} references Key Vault secrets "
            f"{', '.join(sorted(spec.secret_refs))} but no Secrets Store CSI identity is configured for this AKS "
            "cluster; configure its tenant and the azureKeyvaultSecretsProvider add-on's client id"
        )


def secret_env(spec: RevisionSpec) -> list[dict[str, str]]:
    found = []
    for name, uri in sorted(spec.secret_refs.items()):
        found.append({"name": f"{name}_SECRET_URI", "value": uri})
        found.append({"name": f"{name}_SECRET_FILE", "value": f"{SECRETS_ROOT}/{_vault(uri)}/{name}"})
    return found


def secret_volumes(spec: RevisionSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pod volumes, container volume mounts): one CSI volume per vault."""
    vaults = list(_by_vault(spec))
    volumes = [
        {
            "name": f"kv-{vault}",
            "csi": {
                "driver": "secrets-store.csi.k8s.io",
                "readOnly": True,
                "volumeAttributes": {"secretProviderClass": f"{spec.revision}-kv-{vault}"},
            },
        }
        for vault in vaults
    ]
    mounts = [{"name": f"kv-{vault}", "mountPath": f"{SECRETS_ROOT}/{vault}", "readOnly": True} for vault in vaults]
    return volumes, mounts


def secret_provider_classes(
    spec: RevisionSpec, identity: SecretsStoreIdentity, labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One SecretProviderClass per Key Vault the revision references: object names and versions only."""
    found = []
    for vault, refs in _by_vault(spec).items():
        objects = [_vault_object(name, uri) for name, uri in sorted(refs.items())]
        host = urlsplit(next(iter(refs.values()))).hostname or ""
        parameters = {
            "usePodIdentity": "false",
            "useVMManagedIdentity": "true",
            "userAssignedIdentityID": identity.client_id,
            "keyvaultName": vault,
            "cloudName": _CLOUDS.get(host.split(".", 1)[-1], "AzurePublicCloud"),
            "tenantId": identity.tenant_id,
            "objects": yaml.safe_dump({"array": [yaml.safe_dump(o, sort_keys=False) for o in objects]}),
        }
        found.append(
            {
                "apiVersion": f"{CSI_GROUP}/v1",
                "kind": "SecretProviderClass",
                "metadata": {"name": f"{spec.revision}-kv-{vault}", "labels": dict(labels)},
                "spec": {"provider": "azure", "parameters": parameters},
            }
        )
    return found


def _by_vault(spec: RevisionSpec) -> dict[str, dict[str, str]]:
    grouped: dict[str, dict[str, str]] = {}
    for name, uri in spec.secret_refs.items():
        grouped.setdefault(_vault(uri), {})[name] = uri
    return dict(sorted(grouped.items()))


def _vault(uri: str) -> str:
    """``https://kv-orders.vault.azure.net/secrets/db`` -> ``kv-orders`` (vault names are case-insensitive)."""
    return (urlsplit(uri).hostname or "").split(".", 1)[0].lower()


def _vault_object(name: str, uri: str) -> dict[str, str]:
    parts = urlsplit(uri).path.strip("/").split("/")  # secrets/<name>[/<version>]
    found = {"objectName": parts[1], "objectType": "secret", "objectAlias": name}
    if len(parts) > 2:
        found["objectVersion"] = parts[2]
    return found
