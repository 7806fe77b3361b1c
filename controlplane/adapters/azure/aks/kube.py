"""The Kubernetes API calls of the AKS Compute: the official client's typed APIs, wire dicts in and out.

The client builds, authenticates and sends each request; its answer is read as the JSON the server sent
(camelCase), so the adapter reads built-in kinds and custom resources (HTTPRoute, SecretProviderClass) the
same way. Errors are translated here:

    kubernetes failure                          | raised as
    --------------------------------------------+--------------------------------------------------------
    404 with a Status body                      | NotFound (``get``/``delete`` turn it into None/False)
    404 without one (resource type not served)  | PermanentError: install the CRDs
    409 with Status reason AlreadyExists        | AlreadyExists
    409 otherwise (resourceVersion conflict)    | ConcurrencyConflict (a TransientError: re-read, retry)
    408, 429, 5xx, connection/timeout errors    | TransientError
    TLS failure (status 0, or SSLError reason)  | TransientError, and the cluster access is invalidated
                                                | so the retry fetches the kubeconfig (and CA) again
    401, 403                                    | PermanentError naming the missing permission
    other 4xx (400, 422 invalid object, ...)    | PermanentError with the API server's message
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import urllib3
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from controlplane.adapters.azure.aks.objects import GATEWAY_GROUP, MANAGED_BY, MANAGED_BY_LABEL, selector
from controlplane.adapters.azure.aks.secrets import CSI_GROUP
from controlplane.adapters.azure.errors import RETRYABLE_STATUS
from controlplane.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    ControlPlaneError,
    NotFound,
    PermanentError,
    TransientError,
)

MERGE_PATCH = "application/merge-patch+json"


class ClusterAccess(Protocol):
    """Hands out an authenticated ``ApiClient`` for one cluster (``AksClusterAccess``, or a test's)."""

    def api_client(self) -> ApiClient: ...

    def invalidate(self) -> None: ...


@dataclass(frozen=True)
class _Kind:
    api: type
    suffix: str = ""  # typed APIs: read_<suffix>, list_<suffix>, ...
    custom: tuple[str, str, str] | None = None  # custom resources: group, version, plural


KINDS = {
    "Deployment": _Kind(AppsV1Api, "namespaced_deployment"),
    "Service": _Kind(CoreV1Api, "namespaced_service"),
    "Pod": _Kind(CoreV1Api, "namespaced_pod"),
    "HTTPRoute": _Kind(CustomObjectsApi, custom=(GATEWAY_GROUP, "v1", "httproutes")),
    "SecretProviderClass": _Kind(CustomObjectsApi, custom=(CSI_GROUP, "v1", "secretproviderclasses")),
}


@contextmanager
def kube_translated(what: str, on_tls_failure: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Re-raise kubernetes client failures as control plane errors (see the module docstring)."""
    try:
        yield
    except ControlPlaneError:
        raise
    except ApiException as error:
        status, reason, message = error.status or 0, *_status_of(error)
        if status == 404 and reason is None:
            raise PermanentError(
                f"{what}: the API server does not serve this resource type; install its CRDs (Gateway API for "
                "HTTPRoute, the Secrets Store CSI driver add-on for SecretProviderClass)"
            ) from error
        if status == 0:
            on_tls_failure()
            raise TransientError(f"{what}: cannot reach the API server ({error.reason})") from error
        if status == 404:
            raise NotFound(f"{what}: not found ({message})") from error
        if status == 409 and reason == "AlreadyExists":
            raise AlreadyExists(f"{what}: already exists") from error
        if status == 409:
            raise ConcurrencyConflict(f"{what}: changed concurrently ({message})") from error
        if status in RETRYABLE_STATUS or status >= 500:
            raise TransientError(f"{what}: HTTP {status} {message}") from error
        if status in (401, 403):
            raise PermanentError(
                f"{what}: HTTP {status} {message}; grant the control plane's identity Kubernetes access to the "
                "cluster (Azure RBAC for Kubernetes or a RoleBinding)"
            ) from error
        raise PermanentError(f"{what}: HTTP {status} {message}") from error
    except urllib3.exceptions.HTTPError as error:
        # urllib3 retries a failed handshake, then raises MaxRetryError with the SSLError as its reason.
        if isinstance(error, urllib3.exceptions.SSLError) or isinstance(
            getattr(error, "reason", None), urllib3.exceptions.SSLError
        ):
            on_tls_failure()
            raise TransientError(f"{what}: cannot reach the API server (TLS: {error})") from error
        raise TransientError(f"{what}: {error}") from error


def _status_of(error: ApiException) -> tuple[str | None, str]:
    """The reason and message of the Kubernetes ``Status`` in an error body; reason None when the body is
    not a Status (a path the server does not serve answers a plain 404 page)."""
    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return str(body.get("reason", "")), str(body.get("message") or error.reason)
    return None, str(error.reason)


class Kube:
    """Namespaced get / list / create / patch / delete of the kinds in ``KINDS``, as wire dicts."""

    def __init__(self, cluster: ClusterAccess, request_timeout: float) -> None:
        self._cluster = cluster
        self._timeout = request_timeout

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None if there is none."""
        try:
            return self._call(kind, "read", namespace, name)
        except NotFound:
            return None

    def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Objects with all of ``labels``; an absent namespace has none."""
        return self._call(kind, "list", namespace, label_selector=selector(labels))["items"] or []

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create; AlreadyExists if the name is taken."""
        return self._call(kind, "create", namespace, body=body)

    def patch(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch (RFC 7386): maps merge, lists are replaced, null removes a key."""
        return self._call(kind, "patch", namespace, name, body=body)

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Delete (dependents in the background); False if it was already gone."""
        try:
            self._call(kind, "delete", namespace, name)
            return True
        except NotFound:
            return False

    def ensure_namespace(self, name: str) -> None:
        """Create the namespace if it is missing (labelled as ours); one that exists is left as it is."""
        core = CoreV1Api(self._cluster.api_client())
        try:
            with self._translated(f"Namespace {name}: read"):
                core.read_namespace(name, _request_timeout=self._timeout, _preload_content=False)
            return
        except NotFound:
            pass
        metadata = {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}}
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
        try:
            with self._translated(f"Namespace {name}: create"):
                # kubernetes types the body as V1Namespace; its serializer takes the plain dict every object here is.
                core.create_namespace(body, _request_timeout=self._timeout, _preload_content=False)  # type: ignore[arg-type]
        except AlreadyExists:
            pass  # created meanwhile by a concurrent deployment

    def _call(self, kind: str, verb: str, namespace: str, name: str | None = None, **kwargs: Any) -> dict[str, Any]:
        spec = KINDS[kind]
        client = self._cluster.api_client()
        api = spec.api(client)
        if verb == "patch":
            kwargs["_content_type"] = MERGE_PATCH
        if spec.custom is not None:
            method = getattr(api, {"read": "get"}.get(verb, verb) + "_namespaced_custom_object")
            args = [*spec.custom[:2], namespace, spec.custom[2], *([name] if name else [])]
        else:
            method = getattr(api, f"{verb}_{spec.suffix}")
            args = [name, namespace] if name else [namespace]
        with self._translated(f"{kind} {namespace}/{name or ''}: {verb}".replace("/: ", ": ")):
            # Raw JSON, not the client's models: the adapter reads wire dicts, and a model that fails to
            # validate an unusual (but valid) server answer would fail a call that succeeded.
            response = method(*args, _request_timeout=self._timeout, _preload_content=False, **kwargs)
            try:
                return json.loads(response.data or b"{}")
            except ValueError as error:
                raise TransientError(f"answer is not JSON ({error})") from error

    def _translated(self, what: str) -> AbstractContextManager[None]:
        return kube_translated(what, self._cluster.invalidate)
