"""The Compute port on an AKS cluster: environments are namespaces, revisions are Deployments.

What is written per revision is described in ``aks_objects``; how it is reached in ``aks_credentials``.

Traffic, without a service mesh, in one of two modes chosen per cluster:

- **selector** (no ``gateway``; nothing to install): the production Service ``<service>`` selects the pods
  of exactly one revision. ``set_traffic`` accepts only weights that give one revision 100% (a first
  deployment, a blue-green switch, a rollback) and refuses a split with a PermanentError; it never
  approximates one (replica-proportional spreading would silently change replica counts or send traffic
  to revisions meant to have none). RollingHealthGated with a stable revision and Canary need the gateway mode.
- **gateway** (``gateway=GatewayRoute(...)``): an HTTPRoute ``<service>`` attached to a shared Gateway
  (Application Gateway for Containers, the AKS-managed Istio or NGINX Gateway API, ...) splits by
  ``backendRefs`` weights across the revision Services: any whole-percent split. The route's hostname is the
  production entry point; in-cluster callers reach it through the Gateway (or a GAMMA-capable mesh).
  The Gateway's listener must allow routes from the environment namespaces (``allowedRoutes``).

Inventory reads the Deployments of the namespace (managed = has our managed-by label), their
``spec.replicas`` (the count asked for, as drift and scaling compare desired counts; a crash-looping pod is
the health probe's business, not replica drift), the image of the first container, the config hash
recomputed from the live pod template (see ``aks_objects.live_config_hash``) and the weights of the traffic
objects. The config-hash annotation records what was applied and decides whether a redeploy is the same
revision; inventory does not trust it, so a ``kubectl set env`` shows up as config drift.

``endpoints`` are pod IPs (``http://<podIP>:<port>``): the Function App must reach pod IPs (VNet
integration with Azure CNI pod subnet; overlay pod IPs are not routable from outside the cluster).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from controlplane.adapters.azure.aks import objects as objects
from controlplane.adapters.azure.aks.kube import ClusterAccess, Kube
from controlplane.adapters.azure.aks.rollout import describe_pods, rollout_done, rollout_stalled
from controlplane.adapters.azure.aks.secrets import SecretsStoreIdentity, secret_provider_classes
from controlplane.domain.runtime import LiveWorkload, RevisionSpec
from controlplane.domain.traffic import check_weights
from controlplane.errors import AlreadyExists, ConcurrencyConflict, ControlPlaneError, NotFound, PermanentError

logger = logging.getLogger(__name__)


class AksCompute:
    """The Compute port over one AKS cluster (``cluster``: ``AksClusterAccess``); thread-safe, no local state.

    ``gateway``: Gateway API traffic (weighted splits); None routes by Service selector (100% to one revision).
    ``secrets_identity``: the Secrets Store CSI identity; revisions with Key Vault references need it.
    ``deploy_revision`` and ``scale`` wait up to ``rollout_timeout_seconds`` for the Deployment to be
    available, polling every ``poll_seconds``.
    """

    def __init__(
        self,
        cluster: ClusterAccess,
        *,
        gateway: objects.GatewayRoute | None = None,
        secrets_identity: SecretsStoreIdentity | None = None,
        rollout_timeout_seconds: float = 300.0,
        poll_seconds: float = 2.0,
        request_timeout_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = Kube(cluster, request_timeout_seconds)
        self._gateway = gateway
        self._identity = secrets_identity
        self._timeout = rollout_timeout_seconds
        self._poll = poll_seconds
        self._sleep = sleep
        self._clock = clock

    # -- the Compute port ------------------------------------------------------------------------------------
    def deploy_revision(self, spec: RevisionSpec) -> None:
        """Create the revision's objects (no traffic) and wait until its replicas are available; idempotent.
        A revision that fails to start is deleted again, so a retry starts afresh."""
        where = f"{spec.environment}/{spec.service} revision {spec.revision}"
        if spec.replicas < 0:
            raise PermanentError(f"{where}: replicas must be >= 0 (got {spec.replicas})")
        objects.check_names(spec.environment, spec.service, spec.revision)
        body = objects.deployment(spec, self._identity)  # refuses bad configuration before anything is written
        existing = self._kube.get("Deployment", spec.environment, spec.revision)
        if existing is None:
            self._kube.ensure_namespace(spec.environment)
            try:
                self._create(spec, body)
            except AlreadyExists as error:  # a concurrent deploy of the same revision got there first
                raise ConcurrencyConflict(f"{where}: created concurrently; retry") from error
            try:
                self._await(spec.environment, spec.revision, where)
            except PermanentError:
                self._discard(spec.environment, spec.service, spec.revision)
                raise
            return
        objects.check_same(existing, spec, where)
        self._set_replicas(spec.environment, spec.revision, existing, spec.replicas, where)

    def set_traffic(self, environment: str, service: str, weights: dict[str, int]) -> None:
        """Route by weights summing to 100 (see the module docstring for what each mode can do)."""
        check_weights(environment, service, weights)
        for name in weights:
            self._owned(environment, service, name)
        if self._gateway is not None:
            route = objects.http_route(environment, service, weights, self._gateway)
            self._put("HTTPRoute", environment, service, route, {"spec": route["spec"]})
            return
        serving = [name for name, weight in weights.items() if weight]
        if len(serving) != 1:
            raise PermanentError(
                f"{environment}/{service}: traffic {dict(weights)} needs a weighted split, but this AKS cluster routes "
                "by Service selector (one revision takes 100%); configure Gateway API traffic for the cluster, "
                "or use the BlueGreen strategy, which switches all traffic at once"
            )
        body = objects.service(service, service, serving[0], "traffic")
        self._put("Service", environment, service, body, {"spec": {"selector": body["spec"]["selector"]}})

    def set_preview(self, environment: str, service: str, revision: str | None) -> None:
        """Point the ``<service>-preview`` Service at ``revision``, or delete it (None)."""
        name = f"{service}-preview"
        if revision is None:
            found = self._kube.get("Service", environment, name)
            if found is not None:
                objects.check_ours(found, f"Service {environment}/{name}")
                self._kube.delete("Service", environment, name)
            return
        self._owned(environment, service, revision)
        body = objects.service(name, service, revision, "preview")
        self._put("Service", environment, name, body, {"spec": {"selector": body["spec"]["selector"]}})

    def scale(self, environment: str, service: str, revision: str, replicas: int) -> None:
        """Patch the Deployment's replicas and wait for it (0 keeps it restorable); a failed scale-up is
        reverted to the previous count."""
        where = f"{environment}/{service} revision {revision}"
        if replicas < 0:
            raise PermanentError(f"{where}: replicas must be >= 0 (got {replicas})")
        self._set_replicas(environment, revision, self._owned(environment, service, revision), replicas, where)

    def remove_revision(self, environment: str, service: str, revision: str) -> None:
        """Delete the revision's Deployment (managed or not) and our objects of it; refused while it has
        traffic; absent is fine."""
        weight = self._traffic(environment).get((service, revision), 0)
        if weight:
            raise PermanentError(
                f"{environment}/{service}: revision {revision} still receives {weight}% of traffic; "
                "shift its traffic to another revision before removing it"
            )
        found = self._kube.get("Deployment", environment, revision)
        if found is not None and objects.service_of(found) != service:
            return  # a Deployment of that name belongs to another service: not this revision
        if found is not None:
            self._kube.delete("Deployment", environment, revision)
        self._delete_companions(environment, service, revision)

    def inventory(self, environment: str) -> list[LiveWorkload]:
        """Every Deployment of the namespace, ours (managed) and not (see the module docstring)."""
        traffic = self._traffic(environment)
        found = []
        for item in self._kube.list("Deployment", environment, {}):
            metadata, spec = item["metadata"], item.get("spec", {})
            container = spec.get("template", {}).get("spec", {}).get("containers", [{}])[0]
            env = {e["name"]: e.get("value", "") for e in container.get("env") or [] if "valueFrom" not in e}
            labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
            service = objects.service_of(item)
            found.append(
                LiveWorkload(
                    environment,
                    service,
                    metadata["name"],
                    container.get("image", ""),
                    int(spec.get("replicas", 1)),
                    objects.live_config_hash(labels, annotations, env),
                    traffic.get((service, metadata["name"]), 0),
                    objects.managed(item),
                )
            )
        return sorted(found, key=lambda w: (w.service, w.revision))

    def endpoints(self, environment: str, service: str, revision: str) -> list[str]:
        """``http://<podIP>:<port>`` of each pod of the revision that has an IP and is not terminating,
        by pod name (for the health probe, which probes every replica)."""
        found = self._owned(environment, service, revision)
        container = found["spec"]["template"]["spec"]["containers"][0]
        port = next((p["containerPort"] for p in container.get("ports") or [] if p.get("name") == "http"), None)
        pods = self._kube.list("Pod", environment, objects.pod_selector(service, revision))
        return [
            f"http://{pod['status']['podIP']}:{port}"
            for pod in sorted(pods, key=lambda p: p["metadata"]["name"])
            if pod.get("status", {}).get("podIP") and not pod["metadata"].get("deletionTimestamp")
        ]

    # -- internals -------------------------------------------------------------------------------------------
    def _create(self, spec: RevisionSpec, body: dict[str, Any]) -> None:
        """Secret provider classes and the revision Service first: the pods need the former at start."""
        namespace = spec.environment
        ours = objects.labels(spec.service, spec.revision, "secrets")
        for provider in secret_provider_classes(spec, self._identity, ours) if self._identity else []:
            name = provider["metadata"]["name"]
            try:
                self._kube.create("SecretProviderClass", namespace, provider)
            except AlreadyExists:  # left by an attempt that failed before its Deployment existed
                self._kube.patch("SecretProviderClass", namespace, name, {"spec": provider["spec"]})
        revision_service = objects.service(spec.revision, spec.service, spec.revision, "revision")
        with contextlib.suppress(AlreadyExists):  # same name, same selector: both follow from the revision name
            self._kube.create("Service", namespace, revision_service)
        self._kube.create("Deployment", namespace, body)

    def _set_replicas(self, namespace: str, revision: str, current: dict[str, Any], replicas: int, where: str) -> None:
        previous = int(current.get("spec", {}).get("replicas", 1))
        if replicas != previous:
            self._kube.patch("Deployment", namespace, revision, {"spec": {"replicas": replicas}})
        try:
            self._await(namespace, revision, where)
        except PermanentError:
            if replicas > previous:  # leave no replica behind that cannot start
                try:
                    self._kube.patch("Deployment", namespace, revision, {"spec": {"replicas": previous}})
                except ControlPlaneError as error:  # report why it did not start, not why the revert failed
                    logger.warning("%s: could not scale back to %s: %s", where, previous, error)
            raise

    def _await(self, namespace: str, revision: str, where: str) -> None:
        """Poll until the rollout is done; PermanentError naming why not (pod reasons, stalled progress,
        or the deadline passing)."""
        deadline = self._clock() + self._timeout
        while True:
            deployment = self._kube.get("Deployment", namespace, revision)
            if deployment is None:
                raise NotFound(f"{where}: the Deployment was deleted while starting")
            if rollout_done(deployment):
                return
            selector = deployment["spec"]["selector"]["matchLabels"]
            fatal, summary = describe_pods(self._kube.list("Pod", namespace, selector))
            stalled = rollout_stalled(deployment)
            if fatal or stalled:
                raise PermanentError(f"{where}: cannot start: {fatal or stalled}")
            if self._clock() >= deadline:
                raise PermanentError(f"{where}: not available after {self._timeout:g}s: {summary}")
            self._sleep(self._poll)

    def _put(self, kind: str, namespace: str, name: str, body: dict[str, Any], change: dict[str, Any]) -> None:
        """Create ``body``, or apply ``change`` to ours; another owner's object of that name is refused."""
        existing = self._kube.get(kind, namespace, name)
        if existing is None:
            try:
                self._kube.create(kind, namespace, body)
            except AlreadyExists as error:
                raise ConcurrencyConflict(f"{kind} {namespace}/{name}: created concurrently; retry") from error
            return
        objects.check_ours(existing, f"{kind} {namespace}/{name}")
        self._kube.patch(kind, namespace, name, change)

    def _owned(self, environment: str, service: str, revision: str) -> dict[str, Any]:
        found = self._kube.get("Deployment", environment, revision)
        if found is None or not objects.managed(found) or objects.service_of(found) != service:
            raise NotFound(f"{environment}/{service}: no revision {revision}; deploy it first")
        return found

    def _traffic(self, environment: str) -> dict[tuple[str, str], int]:
        """(service, revision) -> percent, from our HTTPRoutes or production Services."""
        ours = {objects.MANAGED_BY_LABEL: objects.MANAGED_BY, objects.ROLE_LABEL: "traffic"}
        weights = {}
        if self._gateway is not None:
            for route in self._kube.list("HTTPRoute", environment, ours):
                service = route["metadata"]["name"]
                weights.update({(service, name): w for name, w in objects.route_weights(route).items()})
        else:
            for item in self._kube.list("Service", environment, ours):
                revision = (item.get("spec", {}).get("selector") or {}).get(objects.REVISION_LABEL)
                if revision:
                    weights[(item["metadata"]["name"], revision)] = 100
        return weights

    def _discard(self, namespace: str, service: str, revision: str) -> None:
        """Delete a revision that failed to start, so a retry starts afresh; failures are logged (the caller
        reports why it did not start)."""
        try:
            self._kube.delete("Deployment", namespace, revision)
        except ControlPlaneError as error:
            logger.warning("%s/%s: could not delete failed revision %s: %s", namespace, service, revision, error)
        self._delete_companions(namespace, service, revision)

    def _delete_companions(self, namespace: str, service: str, revision: str) -> None:
        """Delete our revision Service and secret provider classes of a revision whose Deployment is gone.
        Failures are logged, not raised: a leftover selects nothing, and the next removal deletes it."""
        ours = objects.labels(service, revision)
        try:
            for item in self._kube.list("Service", namespace, {**ours, objects.ROLE_LABEL: "revision"}):
                self._kube.delete("Service", namespace, item["metadata"]["name"])
            if self._identity is not None:
                for item in self._kube.list("SecretProviderClass", namespace, ours):
                    self._kube.delete("SecretProviderClass", namespace, item["metadata"]["name"])
        except ControlPlaneError as error:
            logger.warning("%s/%s: could not delete objects of revision %s: %s", namespace, service, revision, error)
