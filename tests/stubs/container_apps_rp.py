"""A stateful fake of the Microsoft.App container apps resource provider, served by the HTTPS stub.

It answers what the Container Apps adapter calls, in the provider's wire shapes, and refuses what the
provider would refuse (400 with an ARM error body):

    GET   .../containerApps                               list (one resource group)
    GET   .../containerApps/{app}                         404 ResourceNotFound if absent
    PUT   .../containerApps/{app}                         201 + Azure-AsyncOperation
    PATCH .../containerApps/{app}                         202 + Azure-AsyncOperation + Location (JSON merge patch)
    GET   .../containerApps/{app}/revisions[/{rev}]       revisions with trafficWeight, replicas, fqdn
    POST  .../containerApps/{app}/revisions/{rev}/activate|deactivate
    GET   /subscriptions/{sub}/providers/Microsoft.App/locations/{loc}/containerappOperationStatuses/{id}
                                                          InProgress on the first poll, then Succeeded/Failed

Every request must carry ``api-version`` = the SDK's. A template change creates a revision named
``<app>--<revisionSuffix>`` (a taken suffix is refused); traffic entries must name existing revisions and
total 100; secrets must be Key Vault references (a ``value`` is refused); env ``secretRef``s must name a
secret. Scale rules are checked as the provider does: a unique name each, exactly one kind (``http``,
``tcp``, ``custom`` with a ``type``, ``azureQueue``), string metadata, ``auth`` naming app secrets,
``identity`` naming one of the app's identities. An active revision runs ``minReplicas`` replicas (or,
with scale rules, what KEDA decided: ``autoscale``), an inactive one none. Scripting: ``fail_provisioning``
(the revision fails to provision when created with replicas), ``fault`` (answer a request with an HTTP
error, some times or always), ``autoscale``, ``seed_app`` and ``out_of_band_update`` (what someone else
did, bypassing HTTP).
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
from typing import Any

from tests.stubs.https_stub import Recorded, Reply, StubServer

API_VERSION = "2026-07-01"
SUBSCRIPTION = "sub"
DOMAIN = "calm-sea-1234.westeurope.azurecontainerapps.io"
_APPS = rf"/subscriptions/{SUBSCRIPTION}/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.App/containerApps"
_APP = _APPS + r"/(?P<app>[^/]+)"
_LOCATIONS = rf"/subscriptions/{SUBSCRIPTION}/providers/Microsoft\.App/locations/(?P<loc>[^/]+)"
_OPERATIONS = _LOCATIONS + "/containerappOperationStatuses"
_SUFFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_RULE_KINDS = ("http", "tcp", "custom", "azureQueue")


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def _app_id(rg: str, app: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/Microsoft.App/containerApps/{app}"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, null deletes, anything else (arrays too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.reply = error(400, code, message)


class ContainerAppsRP:
    def __init__(self, stub: StubServer, location: str = "westeurope") -> None:
        self.stub = stub
        self.location = location
        self.apps: dict[tuple[str, str], dict[str, Any]] = {}
        self.revisions: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._operations: dict[str, list[dict[str, Any]]] = {}
        self._failing: dict[str, str] = {}
        self._autoscaled: dict[tuple[str, str, str], int] = {}
        self._faults: list[list[Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        routes = [
            ("GET", _APPS, self._list_apps),
            ("GET", _APP, self._get_app),
            ("PUT", _APP, self._put_app),
            ("PATCH", _APP, self._patch_app),
            ("GET", _APP + "/revisions", self._list_revisions),
            ("GET", _APP + "/revisions/(?P<rev>[^/]+)", self._get_revision),
            ("POST", _APP + "/revisions/(?P<rev>[^/]+)/(?P<action>activate|deactivate)", self._activation),
            ("GET", _OPERATIONS + "/(?P<op>[^/]+)", self._operation),
        ]
        for method, pattern, handler in routes:
            stub.route(method, pattern, self._guarded(method, handler))

    # -- scripting ---------------------------------------------------------------------------------------------
    def fail_provisioning(self, revision: str, reason: str = "container exited with code 1") -> None:
        """Creating ``revision`` (Container Apps name) with replicas fails: the operation ends Failed."""
        self._failing[revision] = reason

    def autoscale(self, group: str, app: str, revision: str, replicas: int) -> None:
        """KEDA's decision: the revision (Container Apps name), which has scale rules, runs ``replicas`` while
        active."""
        with self._lock:
            scale = self._revision(group, app, revision)["properties"]["template"].get("scale") or {}
            assert scale.get("rules"), f"{revision} has no scale rules: KEDA does not scale it"
            assert scale.get("minReplicas", 0) <= replicas <= scale.get("maxReplicas", 10), scale
            self._autoscaled[(group, app, revision)] = replicas

    def fault(self, method: str, pattern: str, status: int, times: int | None = 1, retry_after: bool = True) -> None:
        """Answer ``times`` matching requests (None: all) with ``status`` before the provider sees them."""
        self._faults.append([method.upper(), re.compile(pattern), status, times, retry_after])

    def seed_app(self, group: str, app: dict[str, Any], template: dict[str, Any]) -> None:
        """An app made elsewhere (portal, Bicep), with its first revision."""
        with self._lock:
            self._store(group, app["name"], app, template)

    def out_of_band_update(self, group: str, name: str, template: dict[str, Any], weight_to_new: bool) -> str:
        """Like ``az containerapp update`` by someone else: a new revision; optionally all traffic to it."""
        with self._lock:
            app = copy.deepcopy(self.apps[(group, name)])
            new = self._store(group, name, app, template)
            if weight_to_new:
                app["properties"]["configuration"].setdefault("ingress", {})["traffic"] = [
                    {"revisionName": new, "weight": 100}
                ]
                self.apps[(group, name)] = app
            return new

    def revision(self, group: str, app: str, revision: str) -> dict[str, Any]:
        with self._lock:
            return self._shown(group, app, self._revision(group, app, revision))

    # -- handlers ----------------------------------------------------------------------------------------------
    def _guarded(self, method: str, handler: Any) -> Any:
        def answer(request: Recorded, match: re.Match[str]) -> Reply:
            with self._lock:
                for fault in self._faults:
                    if fault[0] == method and fault[1].fullmatch(request.path) and fault[3] != 0:
                        fault[3] = None if fault[3] is None else fault[3] - 1
                        headers = {"Retry-After": "0"} if fault[4] else {}
                        return Reply(fault[2], {"error": {"code": "Injected", "message": f"HTTP {fault[2]}"}}, headers)
                if request.api_version != API_VERSION:
                    return error(400, "InvalidApiVersion", f"api-version {request.api_version} is not {API_VERSION}")
                try:
                    return handler(request, **match.groupdict())
                except _Invalid as invalid:
                    return invalid.reply

        return answer

    def _list_apps(self, request: Recorded, rg: str) -> Reply:
        return Reply(200, {"value": [self._app_view(g, n) for (g, n) in sorted(self.apps) if g == rg]})

    def _get_app(self, request: Recorded, rg: str, app: str) -> Reply:
        if (rg, app) not in self.apps:
            return error(404, "ResourceNotFound", f"The Resource 'Microsoft.App/containerApps/{app}' under resource "
                         f"group '{rg}' was not found.")
        return Reply(200, self._app_view(rg, app))

    def _put_app(self, request: Recorded, rg: str, app: str) -> Reply:
        body = request.body or {}
        properties = body.get("properties") or {}
        if body.get("location") != self.location:
            raise _Invalid("LocationRequired", f"location must be {self.location} (got {body.get('location')})")
        if not str(properties.get("environmentId", "")).startswith(f"/subscriptions/{SUBSCRIPTION}/"):
            raise _Invalid("InvalidEnvironmentId", "properties.environmentId must be a managed environment id")
        return self._apply(rg, app, {**body, "name": app}, 201)

    def _patch_app(self, request: Recorded, rg: str, app: str) -> Reply:
        if (rg, app) not in self.apps:
            return error(404, "ResourceNotFound", f"container app {app} not found")
        merged = merge_patch(self.apps[(rg, app)], request.body or {})
        if "tags" in (request.body or {}):  # ARM replaces the tags object, it does not merge it
            merged["tags"] = dict(request.body["tags"] or {})
        return self._apply(rg, app, merged, 202)

    def _list_revisions(self, request: Recorded, rg: str, app: str) -> Reply:
        if (rg, app) not in self.apps:
            return error(404, "ResourceNotFound", f"container app {app} not found")
        return Reply(200, {"value": [self._shown(rg, app, r) for r in self.revisions[(rg, app)].values()]})

    def _get_revision(self, request: Recorded, rg: str, app: str, rev: str) -> Reply:
        return Reply(200, self._shown(rg, app, self._revision(rg, app, rev)))

    def _activation(self, request: Recorded, rg: str, app: str, rev: str, action: str) -> Reply:
        self._revision(rg, app, rev)["properties"]["active"] = action == "activate"
        return Reply(200, None)

    def _operation(self, request: Recorded, loc: str, op: str) -> Reply:
        states = self._operations[op]
        state = states.pop(0) if len(states) > 1 else states[0]
        return Reply(200, {"id": request.path, "name": op, **state}, {"Retry-After": "0"})

    # -- the provider's rules ----------------------------------------------------------------------------------
    def _apply(self, rg: str, name: str, app: dict[str, Any], status: int) -> Reply:
        properties = app.setdefault("properties", {})
        configuration = properties.setdefault("configuration", {})
        if configuration.get("activeRevisionsMode") != "Multiple":
            raise _Invalid("InvalidRevisionsMode", "this fake serves activeRevisionsMode Multiple only")
        secrets = {secret.get("name"): secret for secret in configuration.get("secrets") or []}
        for secret in secrets.values():
            if "value" in secret or not secret.get("keyVaultUrl") or not secret.get("identity"):
                raise _Invalid("InvalidSecret", f"secret {secret.get('name')}: expected keyVaultUrl + identity only")
        template = properties.get("template") or {}
        for container in template.get("containers") or []:
            for variable in container.get("env") or []:
                if ("value" in variable) == ("secretRef" in variable):
                    raise _Invalid("InvalidEnv", f"env {variable.get('name')}: exactly one of value, secretRef")
                if "secretRef" in variable and variable["secretRef"] not in secrets:
                    raise _Invalid("SecretNotFound", f"env {variable['name']}: no secret {variable['secretRef']}")
        self._check_rules((template.get("scale") or {}).get("rules") or [], secrets, app.get("identity") or {})
        current = self.apps.get((rg, name))
        changed = current is None or template != current["properties"].get("template")
        new = f"{name}--{template.get('revisionSuffix')}" if changed else None
        properties["latestRevisionName"] = new or current["properties"].get("latestRevisionName")
        self._check_traffic(rg, name, configuration.get("ingress"), new)
        failure = self._create_revision(rg, name, template) if changed else None
        app.update(id=_app_id(rg, name), type="Microsoft.App/containerApps", name=name, location=self.location)
        properties["provisioningState"] = "Failed" if failure else "Succeeded"
        self.apps[(rg, name)] = app
        operation = f"op-{next(self._ids)}"
        final = {"status": "Failed", "error": {"code": "ContainerAppOperationError", "message": failure}}
        self._operations[operation] = [{"status": "InProgress"}, final if failure else {"status": "Succeeded"}]
        poll = f"{self.stub.url}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.App/locations/{self.location}"
        poll += f"/containerappOperationStatuses/{operation}?api-version={API_VERSION}"
        headers = {"Azure-AsyncOperation": poll, "Retry-After": "0"}
        if status == 202:
            headers["Location"] = poll
        accepted = {**self._app_view(rg, name), "properties": {**properties, "provisioningState": "InProgress"}}
        return Reply(status, accepted, headers)

    @staticmethod
    def _check_rules(rules: list[dict[str, Any]], secrets: dict[str, Any], identity: dict[str, Any]) -> None:
        names = [rule.get("name") for rule in rules]
        if len(set(names)) != len(names) or not all(isinstance(n, str) and _SUFFIX.fullmatch(n) for n in names):
            raise _Invalid("InvalidScaleRule", f"scale rule names must be unique lowercase names (got {names})")
        assigned = {key.lower() for key in identity.get("userAssignedIdentities") or {}}
        if "SystemAssigned" in (identity.get("type") or ""):
            assigned.add("system")
        for rule in rules:
            kinds = [kind for kind in _RULE_KINDS if kind in rule]
            if len(kinds) != 1 or set(rule) != {"name", *kinds}:
                raise _Invalid("InvalidScaleRule", f"rule {rule.get('name')}: exactly one of {_RULE_KINDS}")
            body = rule[kinds[0]]
            metadata = body.get("metadata") or {}
            if not all(isinstance(value, str) for value in metadata.values()):
                raise _Invalid("InvalidScaleRule", f"rule {rule['name']}: metadata values are strings ({metadata})")
            if kinds[0] == "custom" and not body.get("type"):
                raise _Invalid("InvalidScaleRule", f"rule {rule['name']}: a custom rule needs its KEDA scaler type")
            if kinds[0] == "http" and not str(metadata.get("concurrentRequests", "10")).isdigit():
                raise _Invalid("InvalidScaleRule", f"rule {rule['name']}: concurrentRequests is a whole number")
            for auth in body.get("auth") or []:
                if auth.get("secretRef") not in secrets:
                    raise _Invalid("SecretNotFound", f"rule {rule['name']}: no secret {auth.get('secretRef')}")
            if "identity" in body and body["identity"].lower() not in assigned:
                raise _Invalid("InvalidScaleRule", f"rule {rule['name']}: identity {body['identity']} is not the app's")

    def _create_revision(self, rg: str, app: str, template: dict[str, Any]) -> str | None:
        suffix = template.get("revisionSuffix") or ""
        name = f"{app}--{suffix}"
        if not _SUFFIX.fullmatch(suffix) or "--" in suffix or len(name) > 54:
            raise _Invalid("ContainerAppInvalidRevisionName", f"Revision name has an invalid value '{name}'")
        if name in self.revisions.get((rg, app), {}):
            raise _Invalid("InvalidParameterValueInContainerTemplate",
                           f"Field 'template.revisionsuffix' is invalid: revision with suffix {suffix} already exists")
        scale = template.get("scale") or {}
        if scale.get("maxReplicas", 10) < max(1, scale.get("minReplicas", 0)):
            raise _Invalid("InvalidScale", f"scale {scale}: maxReplicas must be >= max(1, minReplicas)")
        reason = self._failing.get(name) if scale.get("minReplicas", 0) > 0 else None
        failure = f"Failed to provision revision for container app '{app}'. Error details: {reason}" if reason else None
        revisions = self.revisions.setdefault((rg, app), {})
        revisions[name] = {
            "id": f"{_app_id(rg, app)}/revisions/{name}",
            "name": name,
            "type": "Microsoft.App/containerApps/revisions",
            "properties": {
                "createdTime": f"2026-01-01T00:00:{len(revisions):02d}Z",
                "template": copy.deepcopy(template),
                "active": True,
                "provisioningState": "Failed" if failure else "Provisioned",
                "provisioningError": failure,
            },
        }
        return failure

    def _check_traffic(self, rg: str, app: str, ingress: dict[str, Any] | None, new: str | None) -> None:
        traffic = (ingress or {}).get("traffic") or []
        known = {*self.revisions.get((rg, app), {}), new}
        labels = [entry["label"] for entry in traffic if entry.get("label")]
        if len(labels) != len(set(labels)):
            raise _Invalid("ContainerAppDuplicateLabel", f"labels must be unique (got {labels})")
        for entry in traffic:
            if entry.get("latestRevision") == bool(entry.get("revisionName")):
                raise _Invalid("InvalidTrafficWeight", f"{entry}: exactly one of revisionName, latestRevision")
            if entry.get("revisionName") and entry["revisionName"] not in known:
                raise _Invalid("ContainerAppRevisionNotFound", f"traffic names revision {entry['revisionName']}")
        if traffic and sum(entry.get("weight", 0) for entry in traffic) != 100:
            raise _Invalid("ContainerAppInvalidTrafficWeight", f"traffic weights must total 100 (got {traffic})")

    # -- views -------------------------------------------------------------------------------------------------
    def _store(self, rg: str, name: str, app: dict[str, Any], template: dict[str, Any]) -> str:
        self._create_revision(rg, name, template)
        new = f"{name}--{template['revisionSuffix']}"
        app.update(id=_app_id(rg, name), type="Microsoft.App/containerApps", name=name, location=self.location)
        app["properties"].update(template=copy.deepcopy(template), latestRevisionName=new)
        self.apps[(rg, name)] = app
        return new

    def _app_view(self, rg: str, name: str) -> dict[str, Any]:
        app = copy.deepcopy(self.apps[(rg, name)])
        ingress = app["properties"].get("configuration", {}).get("ingress")
        if ingress is not None:
            ingress["fqdn"] = f"{name}.{DOMAIN}"
        return app

    def _revision(self, rg: str, app: str, name: str) -> dict[str, Any]:
        found = self.revisions.get((rg, app), {}).get(name)
        if found is None:
            raise _NotFoundReply(name)
        return found

    def _shown(self, rg: str, app: str, revision: dict[str, Any]) -> dict[str, Any]:
        """Computed fields: traffic from the app's ingress, replicas from activity and scale, fqdn."""
        shown = copy.deepcopy(revision)
        properties, name = shown["properties"], shown["name"]
        app_properties = self.apps[(rg, app)]["properties"]
        ingress = app_properties.get("configuration", {}).get("ingress")
        latest = app_properties.get("latestRevisionName")
        traffic = (ingress or {}).get("traffic") or []
        routed = [e for e in traffic if e.get("revisionName") == name or (e.get("latestRevision") and latest == name)]
        properties["trafficWeight"] = sum(e.get("weight", 0) for e in routed)
        running = properties["active"] and properties["provisioningState"] != "Failed"
        at_rest = (properties["template"].get("scale") or {}).get("minReplicas", 0)
        properties["replicas"] = self._autoscaled.get((rg, app, name), at_rest) if running else 0
        properties["runningState"] = "Running" if running else ("Failed" if properties["active"] else "Stopped")
        properties["fqdn"] = f"{name}.{DOMAIN}" if ingress is not None else ""
        return shown


class _NotFoundReply(_Invalid):
    def __init__(self, name: str) -> None:
        Exception.__init__(self, name)
        self.reply = error(404, "ResourceNotFound", f"revision {name} not found")
