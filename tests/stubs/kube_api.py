"""A stateful fake Kubernetes API server (and the ARM credential route of AKS) on a TLS ``StubServer``.

It serves what the AKS Compute uses: namespaces, apps/v1 Deployments, v1 Services and Pods, and, when
installed, Gateway API HTTPRoutes and Secrets Store CSI SecretProviderClasses (absent CRDs answer a plain
404 page, as a real server does). A newer fake on the same stub shadows an older one completely, so tests
can share one server. Create answers 409 AlreadyExists for a taken name and 404 for a missing namespace;
patch takes JSON merge patch (strategic merge patch is treated the same, which is exact for maps without
lists) and refuses other patch types with 415; list filters by equality label selectors.

A tiny Deployment controller runs when a Deployment is read: ``status_lag`` reads after each change the
status catches up (pods created or deleted to the wanted count, each with a pod IP). Pods of an image
marked with ``fail_image`` never become ready and report the given waiting reason, as kubelet would.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.stubs.https_stub import Recorded, Reply, StubServer

AKS_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
MERGE_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
_ITEM = r"(?:/(?P<name>[^/]+))?"
_PATHS = {
    "services": r"/api/v1/namespaces/(?P<ns>[^/]+)/services",
    "pods": r"/api/v1/namespaces/(?P<ns>[^/]+)/pods",
    "deployments": r"/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments",
    "httproutes": r"/apis/gateway\.networking\.k8s\.io/v1/namespaces/(?P<ns>[^/]+)/httproutes",
    "secretproviderclasses": r"/apis/secrets-store\.csi\.x-k8s\.io/v1/namespaces/(?P<ns>[^/]+)/secretproviderclasses",
}


# What the API server answers for a resource type it does not serve (a CRD that is not installed).
NOT_SERVED = Reply(404, b"404 page not found\n", {"Content-Type": "text/plain"})


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    reason: str
    message: str


def status(code: int, reason: str, message: str) -> Reply:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message}
    return Reply(code, {**body, "code": code})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeKubeApi:
    """The fake API server's state and test controls; ``stub.requests`` records every request."""

    def __init__(self, stub: StubServer, *, gateway_api: bool = True, csi: bool = True, status_lag: int = 1) -> None:
        self.stub = stub
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        self._lag = status_lag
        self._pending: dict[tuple[str, str], int] = {}
        self._failing: dict[str, tuple[str, str]] = {}
        self._faults: list[_Fault] = []
        self._counter = itertools.count(1)
        self._lock = threading.RLock()
        stub.route("GET", r"/api/v1/namespaces/(?P<name>[^/]+)", self._guarded(self._read_namespace))
        stub.route("POST", r"/api/v1/namespaces", self._guarded(self._create_namespace))
        for plural, path in _PATHS.items():
            served = {"httproutes": gateway_api, "secretproviderclasses": csi}.get(plural, True)
            for method in ("GET", "POST", "PATCH", "DELETE"):
                stub.route(method, path + _ITEM, self._guarded(self._handle, plural) if served else NOT_SERVED)

    # -- test controls -----------------------------------------------------------------------------------------
    def fail_image(self, image: str, reason: str = "ImagePullBackOff", message: str = "") -> None:
        """Pods running ``image`` wait with ``reason`` and never become ready."""
        self._failing[image] = (reason, message or f'Back-off pulling image "{image}"')

    def fail_next(self, method: str, pattern: str, code: int, reason: str = "", message: str = "") -> None:
        """Answer the next matching request with an error Status (once)."""
        self._faults.append(_Fault(method.upper(), re.compile(pattern), code, reason, message or f"injected {code}"))

    def add(self, plural: str, namespace: str, body: dict[str, Any]) -> None:
        """Create an object behind the control plane's back (kubectl apply by someone else)."""
        with self._lock:
            self.namespaces.setdefault(namespace, {"metadata": {"name": namespace}})
            self._store(plural, namespace, deepcopy(body))

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.objects.get((plural, namespace, name))
            return deepcopy(found) if found else None

    def names(self, plural: str, namespace: str) -> list[str]:
        with self._lock:
            return sorted(name for (p, ns, name) in self.objects if (p, ns) == (plural, namespace))

    # -- routes ------------------------------------------------------------------------------------------------
    def _guarded(self, handler: Any, *extra: Any) -> Any:
        def answer(request: Recorded, match: re.Match[str]) -> Reply:
            for fault in list(self._faults):
                if fault.method == request.method and fault.pattern.fullmatch(request.path):
                    self._faults.remove(fault)
                    return status(fault.status, fault.reason, fault.message)
            if not request.headers.get("authorization", "").startswith("Bearer "):
                return status(401, "Unauthorized", "no bearer token")
            with self._lock:
                return handler(request, match, *extra)

        return answer

    def _read_namespace(self, _request: Recorded, match: re.Match[str]) -> Reply:
        found = self.namespaces.get(match["name"])
        return Reply(200, found) if found else status(404, "NotFound", f'namespaces "{match["name"]}" not found')

    def _create_namespace(self, request: Recorded, _match: re.Match[str]) -> Reply:
        name = request.body["metadata"]["name"]
        if name in self.namespaces:
            return status(409, "AlreadyExists", f'namespaces "{name}" already exists')
        self.namespaces[name] = {**deepcopy(request.body), "status": {"phase": "Active"}}
        return Reply(201, self.namespaces[name])

    def _handle(self, request: Recorded, match: re.Match[str], plural: str) -> Reply:
        namespace, name = match["ns"], match["name"]
        key = (plural, namespace, name or "")
        if request.method == "GET" and name is None:
            return self._list(plural, namespace, request.query.get("labelSelector", ""))
        if request.method == "POST":
            if namespace not in self.namespaces:
                return status(404, "NotFound", f'namespaces "{namespace}" not found')
            if (plural, namespace, request.body["metadata"]["name"]) in self.objects:
                return status(409, "AlreadyExists", f'{plural} "{request.body["metadata"]["name"]}" already exists')
            return Reply(201, self._store(plural, namespace, deepcopy(request.body)))
        if key not in self.objects:
            return status(404, "NotFound", f'{plural} "{name}" not found')
        if request.method == "GET":
            return Reply(200, self._reconciled(key))
        if request.method == "DELETE":  # Deployments answer a Status, the other kinds the deleted object
            removed = self._delete(key)
            success = {"kind": "Status", "apiVersion": "v1", "status": "Success"}
            return Reply(200, success if plural == "deployments" else removed)
        if request.headers.get("content-type") not in MERGE_TYPES:
            return status(415, "UnsupportedMediaType", f"patch type {request.headers.get('content-type')} not served")
        return Reply(200, self._patch(key, request.body))

    def _list(self, plural: str, namespace: str, selector: str) -> Reply:
        wanted = dict(pair.split("=", 1) for pair in selector.split(",") if pair)
        keys = sorted(k for k in self.objects if k[:2] == (plural, namespace))
        items = [self._reconciled(k) for k in keys]
        items = [i for i in items if wanted.items() <= (i["metadata"].get("labels") or {}).items()]
        return Reply(200, {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})

    # -- state ---------------------------------------------------------------------------------------------------
    def _store(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        metadata = body.setdefault("metadata", {})
        number = next(self._counter)
        metadata.update(
            namespace=namespace,
            uid=f"00000000-0000-0000-0000-{number:012d}",
            resourceVersion=str(number),
            creationTimestamp="2025-01-01T00:00:00Z",
            generation=1,
        )
        if plural == "services":
            body["spec"]["clusterIP"] = f"10.0.{number // 250}.{number % 250 + 1}"
        if plural == "deployments":
            body.setdefault("status", {})
            self._pending[(namespace, metadata["name"])] = self._lag
        self.objects[(plural, namespace, metadata["name"])] = body
        return deepcopy(body)

    def _patch(self, key: tuple[str, str, str], change: dict[str, Any]) -> dict[str, Any]:
        before = self.objects[key]
        after = merge_patch(before, change)
        after["metadata"]["resourceVersion"] = str(next(self._counter))
        if after.get("spec") != before.get("spec"):
            after["metadata"]["generation"] = before["metadata"]["generation"] + 1
            if key[0] == "deployments":
                self._pending[key[1:]] = self._lag
        self.objects[key] = after
        return deepcopy(after)

    def _delete(self, key: tuple[str, str, str]) -> dict[str, Any]:
        removed = self.objects.pop(key)
        if key[0] == "deployments":
            for pod in self._pods_of(key[1], removed):
                del self.objects[("pods", key[1], pod)]
        return removed

    def _reconciled(self, key: tuple[str, str, str]) -> dict[str, Any]:
        """Deployments catch up ``status_lag`` reads after a change: pods to the wanted count, then status."""
        if key[0] == "deployments":
            remaining = self._pending.get(key[1:], 0)
            if remaining:
                self._pending[key[1:]] = remaining - 1
            else:
                self._reconcile(key[1], self.objects[key])
        return deepcopy(self.objects[key])

    def _reconcile(self, namespace: str, deployment: dict[str, Any]) -> None:
        wanted = int(deployment["spec"].get("replicas", 1))
        template = deployment["spec"]["template"]
        pods = self._pods_of(namespace, deployment)
        for name in pods[wanted:]:
            del self.objects[("pods", namespace, name)]
        for index in range(len(pods), wanted):
            self._start_pod(namespace, deployment["metadata"]["name"], template, index)
        container = template["spec"]["containers"][0]
        ready = 0 if container["image"] in self._failing else wanted
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": wanted,
            "updatedReplicas": wanted,
            **({"readyReplicas": ready, "availableReplicas": ready} if ready else {}),
            **({"unavailableReplicas": wanted - ready} if wanted - ready else {}),
            "conditions": [{"type": "Available", "status": "True" if ready == wanted else "False"}],
        }

    def _start_pod(self, namespace: str, deployment: str, template: dict[str, Any], index: int) -> None:
        number = next(self._counter)
        name = f"{deployment}-7d9f8b{index:02d}-{number:05d}"
        container = template["spec"]["containers"][0]
        failing = self._failing.get(container["image"])
        state = {"waiting": {"reason": failing[0], "message": failing[1]}} if failing else {"running": {}}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(template["metadata"]["labels"])},
            "spec": deepcopy(template["spec"]),
            "status": {
                "phase": "Pending" if failing else "Running",
                "podIP": f"10.244.{number // 250}.{number % 250 + 1}",
                "containerStatuses": [
                    {
                        "name": container["name"],
                        "image": container["image"],
                        "imageID": "",
                        "ready": not failing,
                        "restartCount": 0,
                        "state": state,
                    }
                ],
            },
        }
        self.objects[("pods", namespace, name)] = pod

    def _pods_of(self, namespace: str, deployment: dict[str, Any]) -> list[str]:
        wanted = deployment["spec"]["selector"]["matchLabels"].items()
        return sorted(
            name
            for (plural, ns, name), pod in self.objects.items()
            if (plural, ns) == ("pods", namespace) and wanted <= pod["metadata"]["labels"].items()
        )


def serve_cluster_credentials(
    stub: StubServer, subscription: str, resource_group: str, cluster: str, ca_pem: bytes | None = None
) -> str:
    """Answer ARM's listClusterUserCredential with an Entra ID (kubelogin exec) kubeconfig for the stub
    (trusting ``ca_pem`` instead of the stub's CA, if given); returns the path it serves."""
    user = f"clusterUser_{resource_group}_{cluster}"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": stub.url,
                    "certificate-authority-data": base64.b64encode(ca_pem or Path(stub.ca_file).read_bytes()).decode(),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
        "users": [
            {
                "name": user,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "kubelogin",
                        "args": ["get-token", "--login", "devicecode", "--server-id", AKS_SERVER_ID],
                    }
                },
            }
        ],
    }
    value = base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()
    path = (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.ContainerService"
        f"/managedClusters/{cluster}/listClusterUserCredential"
    )
    stub.route("POST", re.escape(path), Reply(200, {"kubeconfigs": [{"name": "clusterUser", "value": value}]}))
    return path
