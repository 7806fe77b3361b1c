"""The Kubernetes objects the AKS Compute writes, and how it reads them back. Pure functions, dicts on the wire.

Per revision ``R`` of service ``S`` in environment (namespace) ``E``:

    object                                   | selects / holds                             | role label
    -----------------------------------------+---------------------------------------------+-----------
    Deployment R                             | pods; replicas; config-hash, secret names   | (none)
    Service R (port 80 -> "http")            | pods of R                                   | revision
    SecretProviderClass R-kv-<vault> (0..n)  | R's Key Vault references in one vault       | secrets
    Service S (selector traffic mode)        | pods of the one revision with 100%          | traffic
    HTTPRoute S (gateway traffic mode)       | weighted backendRefs to the Services R      | traffic
    Service S-preview                        | pods of the previewed revision              | preview

Every object carries ``app.kubernetes.io/managed-by=runtime-control-plane``; a Deployment without it is
reported as unmanaged. Secrets are Key Vault references mounted by the CSI driver (``aks_secrets``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.adapters.azure.aks.secrets import SecretsStoreIdentity, require_identity, secret_env, secret_volumes
from controlplane.domain.config_hash import config_hash
from controlplane.domain.images import image_version
from controlplane.domain.runtime import RevisionSpec, revision_changed
from controlplane.errors import PermanentError

NAME_LABEL = "app.kubernetes.io/name"
REVISION_LABEL = "controlplane.azure/revision"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "runtime-control-plane"
ROLE_LABEL = "controlplane.azure/role"
CONFIG_HASH_ANNOTATION = "controlplane.azure/config-hash"
SECRETS_ANNOTATION = "controlplane.azure/secrets"
SERVICE_PORT = 80
GATEWAY_GROUP = "gateway.networking.k8s.io"
# Set by the adapter on every container; configuration may not use these names (they would be shadowed,
# and the live config hash could not tell them apart from configuration).
SYSTEM_ENV = ("PORT", "SERVICE_NAME", "SERVICE_VERSION", "REVISION")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class GatewayRoute:
    """Gateway API traffic: an HTTPRoute per service attached to Gateway ``namespace/name``, for the host
    ``hostname`` (a template with ``{service}`` and ``{environment}``, e.g. ``{service}.{environment}.contoso.com``)."""

    name: str
    namespace: str
    hostname: str


def check_names(environment: str, service: str, revision: str) -> None:
    """Refuse up front what the API server would refuse: a namespace is a DNS-1123 label, a Service name a
    DNS-1035 label (at most 63 characters, starting with a letter); and revision names that collide with
    the service's own Services."""
    if len(environment) > 63 or not _DNS_1123.match(environment):
        raise PermanentError(
            f"environment {environment!r} cannot be an AKS namespace: use a DNS-1123 label (lowercase letters, "
            "digits and '-', starting and ending with a letter or digit, at most 63 characters)"
        )
    for what, name in {"revision": revision, "preview Service": f"{service}-preview"}.items():
        if len(name) > 63 or not _DNS_1035.match(name):
            raise PermanentError(
                f"{environment}/{service}: {what} name {name!r} is not a DNS-1035 label (lowercase letters, digits "
                "and '-', starting with a letter, at most 63 characters); shorten or rename the service"
            )
    if revision in (service, f"{service}-preview"):
        raise PermanentError(f"{environment}/{service}: revision name {revision!r} is reserved for the service itself")


def labels(service: str, revision: str | None = None, role: str | None = None) -> dict[str, str]:
    found = {NAME_LABEL: service, MANAGED_BY_LABEL: MANAGED_BY}
    if revision is not None:
        found[REVISION_LABEL] = revision
    if role is not None:
        found[ROLE_LABEL] = role
    return found


def selector(pairs: Mapping[str, str]) -> str:
    """A label selector string (``a=b,c=d``) for list calls."""
    return ",".join(f"{key}={value}" for key, value in sorted(pairs.items()))


def pod_selector(service: str, revision: str) -> dict[str, str]:
    return {NAME_LABEL: service, REVISION_LABEL: revision}


def deployment(spec: RevisionSpec, identity: SecretsStoreIdentity | None) -> dict[str, Any]:
    """The revision's Deployment: one container, env from configuration and secret references, readiness
    probe on the health path (ASP.NET Core answers 200 for Healthy and Degraded, 503 for Unhealthy)."""
    check_environment(spec)
    require_identity(spec, identity)
    env = [{"name": key, "value": value} for key, value in sorted(spec.configuration.items())]
    system = [str(spec.port), spec.service, image_version(spec.image), spec.revision]
    env += secret_env(spec) + [{"name": n, "value": v} for n, v in zip(SYSTEM_ENV, system, strict=True)]
    volumes, mounts = secret_volumes(spec)
    container = {
        "name": spec.service,
        "image": spec.image,
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": env,
        "readinessProbe": {
            "httpGet": {"path": spec.health_path, "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "volumeMounts": mounts,
    }
    annotations = {CONFIG_HASH_ANNOTATION: spec.config_hash(), SECRETS_ANNOTATION: ",".join(sorted(spec.secret_refs))}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.revision, "labels": labels(spec.service, spec.revision), "annotations": annotations},
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 1,  # the template never changes: a revision is immutable
            "selector": {"matchLabels": pod_selector(spec.service, spec.revision)},
            "template": {
                "metadata": {"labels": labels(spec.service, spec.revision)},
                "spec": {"containers": [container], "volumes": volumes},
            },
        },
    }


def check_environment(spec: RevisionSpec) -> None:
    """Configuration may not use the names the adapter sets itself (system and secret variables)."""
    reserved = set(SYSTEM_ENV) | {f"{n}_SECRET_{kind}" for n in spec.secret_refs for kind in ("URI", "FILE")}
    clashes = sorted(reserved & set(spec.configuration))
    if clashes:
        raise PermanentError(
            f"{spec.environment}/{spec.service}: configuration keys {clashes} are set by the AKS compute itself "
            "(PORT, SERVICE_NAME, SERVICE_VERSION, REVISION, <SECRET>_SECRET_URI/_FILE); rename them"
        )


def service(name: str, service: str, revision: str, role: str) -> dict[str, Any]:
    """A ClusterIP Service on port 80 to the pods' ``http`` port, selecting one revision's pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels(service, revision if role == "revision" else None, role)},
        "spec": {
            "type": "ClusterIP",
            "selector": pod_selector(service, revision),
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def http_route(environment: str, service: str, weights: Mapping[str, int], gateway: GatewayRoute) -> dict[str, Any]:
    """The service's HTTPRoute: one rule whose backendRefs are the revision Services with their weights
    (Gateway API weights are proportional; ours sum to 100, so they are percentages). Zero weights are left out."""
    backends = [
        {"group": "", "kind": "Service", "name": name, "port": SERVICE_PORT, "weight": weight}
        for name, weight in sorted(weights.items())
        if weight
    ]
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": service, "labels": labels(service, role="traffic")},
        "spec": {
            "parentRefs": [
                {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gateway.name, "namespace": gateway.namespace}
            ],
            "hostnames": [gateway.hostname.format(service=service, environment=environment)],
            "rules": [{"backendRefs": backends}],
        },
    }


def route_weights(route: Mapping[str, Any]) -> dict[str, int]:
    """Revision -> percent from an HTTPRoute's backendRefs; weights are normalised to percentages in case
    someone edited the route so they no longer sum to 100 (a backendRef without weight counts 1)."""
    refs = [ref for rule in route.get("spec", {}).get("rules") or [] for ref in rule.get("backendRefs") or []]
    weights: dict[str, int] = {}
    for ref in refs:
        weights[ref["name"]] = weights.get(ref["name"], 0) + int(ref.get("weight", 1))
    total = sum(weights.values())
    return {name: round(100 * weight / total) for name, weight in weights.items() if weight} if total else {}


def live_config_hash(
    deployment_labels: Mapping[str, str], annotations: Mapping[str, str], env: Mapping[str, str]
) -> str:
    """The config hash of what the pod template runs now, so ``kubectl set env`` shows up as drift.

    For our Deployments the secrets annotation says which ``<NAME>_SECRET_URI`` variables are references;
    system variables are dropped; the rest is configuration. An unmanaged Deployment hashes its plain env.
    (``env`` holds plain values only: ``valueFrom`` entries are not configuration we could compare.)
    """
    configuration = dict(env)
    refs: dict[str, str] = {}
    if deployment_labels.get(MANAGED_BY_LABEL) == MANAGED_BY:
        for name in filter(None, annotations.get(SECRETS_ANNOTATION, "").split(",")):
            refs[name] = configuration.pop(f"{name}_SECRET_URI", "")
            configuration.pop(f"{name}_SECRET_FILE", None)
        for name in SYSTEM_ENV:
            configuration.pop(name, None)
    return config_hash(configuration, refs)


def managed(item: Mapping[str, Any]) -> bool:
    return (item["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY


def check_ours(item: Mapping[str, Any], what: str) -> None:
    if not managed(item):
        raise PermanentError(f"{what} exists and is not managed by the control plane; rename or remove it")


def service_of(item: Mapping[str, Any]) -> str:
    """Our name label; a Deployment someone else made may lack it, then it is its own service."""
    return (item["metadata"].get("labels") or {}).get(NAME_LABEL) or item["metadata"]["name"]


def check_same(existing: Mapping[str, Any], spec: RevisionSpec, where: str) -> None:
    """Revisions are immutable apart from their replica count: the same name must mean the same workload
    (image, config hash as applied, port, health path)."""
    if not managed(existing) or service_of(existing) != spec.service:
        raise PermanentError(f"{where}: a Deployment of that name exists and is not this service's; rename it")
    container = existing["spec"]["template"]["spec"]["containers"][0]
    probe = (container.get("readinessProbe") or {}).get("httpGet") or {}
    ports = [p.get("containerPort") for p in container.get("ports") or []]
    annotations = existing["metadata"].get("annotations") or {}
    same = (
        container.get("image") == spec.image
        and annotations.get(CONFIG_HASH_ANNOTATION) == spec.config_hash()
        and ports == [spec.port]
        and probe.get("path") == spec.health_path
    )
    if not same:
        raise revision_changed(spec)
