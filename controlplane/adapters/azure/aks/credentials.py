"""Access to an AKS cluster's API server as the control plane's own Entra ID identity.

ARM's ``listClusterUserCredential`` gives the cluster's user kubeconfig. On an Entra ID cluster its user
entry is an exec plugin (kubelogin) that a Functions worker cannot run, so only the cluster entry is kept
(server URL and CA certificate) and every request carries a bearer token that the Azure credential
(managed identity in Azure) gets for the AKS server application, ``AKS_SERVER_SCOPE``. That is what
kubelogin itself does in ``-l msi`` / ``-l workloadidentity`` mode.

The identity needs "Azure Kubernetes Service Cluster User Role" (to list the user credential) and
Kubernetes permissions in the cluster: Azure RBAC for Kubernetes ("Azure Kubernetes Service RBAC Writer"
on the environment namespaces, plus create on namespaces) or equivalent Kubernetes RBAC bindings.
Clusters with local accounts only (no Entra ID integration) are not supported.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml
from azure.core.credentials import TokenCredential
from kubernetes.client import ApiClient, Configuration

from controlplane.adapters.azure.errors import translated
from controlplane.errors import PermanentError

if TYPE_CHECKING:
    from azure.mgmt.containerservice import ContainerServiceClient

AKS_SERVER_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"
"""The well-known AKS Entra ID server application (the same for every cluster and tenant)."""


@dataclass(frozen=True)
class ClusterEndpoint:
    """Where the API server is and which CA signs its certificate (PEM; None: the system's trust store)."""

    server: str
    ca_pem: str | None


def cluster_endpoint(kubeconfig: bytes | str, where: str) -> ClusterEndpoint:
    """The server and CA of the kubeconfig's current context (or of its only cluster); the user is ignored."""
    try:
        config = yaml.safe_load(kubeconfig) or {}
        clusters = {item["name"]: item["cluster"] for item in config.get("clusters") or []}
        contexts = {item["name"]: item["context"] for item in config.get("contexts") or []}
        current = contexts.get(config.get("current-context", ""))
        cluster = clusters[current["cluster"]] if current else next(iter(clusters.values()))
        ca_data = cluster.get("certificate-authority-data")
        ca_pem = base64.b64decode(ca_data).decode("ascii") if ca_data else None
        return ClusterEndpoint(cluster["server"], ca_pem)
    except (yaml.YAMLError, KeyError, TypeError, StopIteration, ValueError, AttributeError) as error:
        raise PermanentError(f"{where}: the cluster user kubeconfig has no usable cluster entry ({error!r})") from error


class BearerToken:
    """A token for the AKS server scope, fetched again ``refresh_margin`` seconds before it expires.

    Thread-safe: concurrent requests near expiry fetch one new token, not one each.
    """

    def __init__(self, credential: TokenCredential, refresh_margin: float, clock: Callable[[], float]) -> None:
        self._credential = credential
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0

    def value(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_on - self._margin:
                with translated(f"token for {AKS_SERVER_SCOPE}"):
                    token = self._credential.get_token(AKS_SERVER_SCOPE)
                self._token, self._expires_on = token.token, float(token.expires_on)
            return self._token


class AksClusterAccess:
    """Builds (once) and hands out a ``kubernetes.client.ApiClient`` for one AKS cluster.

    ``clusters`` is an ``azure.mgmt.containerservice.ContainerServiceClient`` (its subscription is the
    cluster's); ``credential`` is the identity the control plane acts as in the cluster. Nothing is fetched
    until the first ``api_client()``; ``invalidate()`` makes the next call fetch the kubeconfig again (after
    a TLS failure, e.g. a rotated cluster CA).
    """

    def __init__(
        self,
        clusters: ContainerServiceClient,
        credential: TokenCredential,
        resource_group: str,
        cluster: str,
        *,
        server_fqdn: str | None = None,
        refresh_margin_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clusters = clusters
        self._resource_group = resource_group
        self._cluster = cluster
        self._server_fqdn = server_fqdn
        self._token = BearerToken(credential, refresh_margin_seconds, clock)
        self._lock = threading.Lock()
        self._client: ApiClient | None = None

    @property
    def name(self) -> str:
        return f"AKS cluster {self._resource_group}/{self._cluster}"

    def api_client(self) -> ApiClient:
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def invalidate(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _build(self) -> ApiClient:
        endpoint = cluster_endpoint(self._kubeconfig(), self.name)
        configuration = Configuration(host=endpoint.server, ca_cert_data=endpoint.ca_pem)
        configuration.verify_ssl = True
        configuration.api_key_prefix = {"authorization": "Bearer"}
        token = self._token

        def refresh(config: Configuration) -> None:  # the client calls this before every request
            config.api_key["authorization"] = token.value()

        # kubernetes declares the hook only as `= None` in Configuration.__init__, so its inferred type is None.
        configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]
        refresh(configuration)  # fail here, naming the scope, if the identity cannot get a token at all
        return ApiClient(configuration)

    def _kubeconfig(self) -> bytes:
        with translated(f"{self.name}: list cluster user credentials"):
            results = self._clusters.managed_clusters.list_cluster_user_credentials(
                self._resource_group, self._cluster, server_fqdn=self._server_fqdn
            )
        configs = [item.value for item in results.kubeconfigs or [] if item.value]
        if not configs:
            raise PermanentError(f"{self.name}: listClusterUserCredential returned no kubeconfig")
        return configs[0]
