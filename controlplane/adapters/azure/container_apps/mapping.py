"""How the control plane's terms map onto Container Apps resources, both ways. Pure: no I/O.

Names. The container app is named after the service; a revision is ``<app>--<suffix>``. The control plane
names revisions ``<service>--<suffix>`` (``rollout.revision_name``), which is the Container Apps name itself.
Names of the form ``<service>-<rest>`` (the contract suite's ``orders-v1``, hand-written names) become the
whole suffix. The mapping is one-to-one because a suffix that itself starts with ``<service>-`` is read
back as such a short name, so ``<service>--<service>-x`` is refused as a control-plane name:

    service  control-plane name       Container Apps revision     read back as
    -------  -----------------------  --------------------------  ----------------------
    orders   orders--a1b2c3d4e5f6     orders--a1b2c3d4e5f6        orders--a1b2c3d4e5f6
    orders   orders-v1                orders--orders-v1           orders-v1
    orders   orders--orders-v1        (refused: reads back as orders-v1)
    orders   v1, orders--V1, orders-  (refused: no valid suffix)
    orders   (made out of band)       orders--k3j9x1              orders--k3j9x1

A suffix is lowercase letters, digits and single hyphens, starting and ending with a letter or digit; the
whole revision name is at most 54 characters (the resource provider's limit).

Template. One container named after the service: the image, the configuration as plain env vars, each
secret as an env var with ``secretRef`` to an app-level secret that is a Key Vault reference
(``keyVaultUrl`` + ``identity``; no value ever passes through here). Secrets are app-scope, shared by every
revision, so a secret is named after its Key Vault URI (``kv-`` + 24 hex of its sha256): a revision that
points a variable at another URI adds a secret instead of re-pointing an older revision's. One readiness
probe, ``GET health_path`` on ``port``. A revision's scale cannot change after creation, and the control
plane's scaling loop does not resize revisions here, so ``container_apps_scale.revision_scale`` makes the
spec's ScalingPolicy the revision's own scale rules, which Container Apps' KEDA applies; without a policy the
scale is fixed, ``minReplicas = maxReplicas = replicas``.

Read back: ``LiveApp`` is an app as listed (tags, secrets, ingress traffic, revisions) and decides which
revisions are visible; ``read_template`` turns a live template into image, replica bounds, scale rules and
config hash.
Traffic: ``weighted``, ``relabelled`` and ``pinned`` compute the ingress entries (tables at each).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from azure.mgmt.appcontainers import models

from controlplane.adapters.azure.container_apps.scale import autoscaling
from controlplane.domain.config_hash import config_hash
from controlplane.domain.runtime import RevisionSpec
from controlplane.errors import PermanentError

MANAGED_TAG, MANAGED_VALUE = "managed-by", "runtime-control-plane"
REMOVED_TAG = "removed-revisions"  # suffixes of revisions removed by the control plane, space-separated
PREVIEW_LABEL = "preview"
MAX_REVISION_NAME = 54
_SUFFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_APP = re.compile(r"[a-z](?:[a-z0-9-]{0,30}[a-z0-9])")


def check_app_name(environment: str, service: str) -> None:
    """Container app names: 2-32 lowercase letters, digits and single hyphens, starting with a letter."""
    if not _APP.fullmatch(service) or "--" in service:
        raise PermanentError(
            f"{environment}/{service}: service name {service!r} cannot name a container app; use 2-32 lowercase "
            "letters, digits and single hyphens, starting with a letter and ending with a letter or digit"
        )


def aca_revision_name(service: str, revision: str) -> str | None:
    """The Container Apps revision name of a control-plane revision name, or None if it cannot have one."""
    if revision.startswith(f"{service}--"):
        suffix = revision[len(service) + 2 :]
        if suffix.startswith(f"{service}-"):
            return None
    elif revision.startswith(f"{service}-"):
        suffix = revision
    else:
        return None
    name = f"{service}--{suffix}"
    if "--" in suffix or not _SUFFIX.fullmatch(suffix) or len(name) > MAX_REVISION_NAME:
        return None
    return name


def require_aca_revision_name(spec: RevisionSpec) -> str:
    name = aca_revision_name(spec.service, spec.revision)
    if name is None:
        raise PermanentError(
            f"{spec.environment}/{spec.service}: revision name {spec.revision!r} cannot be a Container Apps "
            f"revision; use '{spec.service}--<suffix>' (lowercase letters, digits and single hyphens, at most "
            f"{MAX_REVISION_NAME} characters in all)"
        )
    return name


def control_plane_revision_name(app: str, aca_name: str) -> str:
    """The inverse of ``aca_revision_name`` (see the module table)."""
    suffix = suffix_of(app, aca_name)
    return suffix if suffix.startswith(f"{app}-") else aca_name


def suffix_of(app: str, aca_name: str) -> str:
    return aca_name.removeprefix(f"{app}--")


def secret_name(key_vault_secret_uri: str) -> str:
    return "kv-" + hashlib.sha256(key_vault_secret_uri.encode("utf-8")).hexdigest()[:24]


def key_vault_secrets(spec: RevisionSpec, identity: str) -> list[models.Secret]:
    """The app-level Key Vault references the revision's env vars point at (no values)."""
    uris = sorted(set(spec.secret_refs.values()))
    return [models.Secret(name=secret_name(uri), key_vault_url=uri, identity=identity) for uri in uris]


def managed_identity(identity: str) -> models.ManagedServiceIdentity:
    """The app's identity block: ``System``, or the user-assigned identity's resource id."""
    if identity.lower() == "system":
        return models.ManagedServiceIdentity(type="SystemAssigned")
    return models.ManagedServiceIdentity(
        type="UserAssigned", user_assigned_identities={identity: models.UserAssignedIdentity()}
    )


def revision_template(spec: RevisionSpec, suffix: str, scale: models.Scale) -> models.Template:
    env = [models.EnvironmentVar(name=name, value=value) for name, value in sorted(spec.configuration.items())]
    env += [
        models.EnvironmentVar(name=name, secret_ref=secret_name(uri)) for name, uri in sorted(spec.secret_refs.items())
    ]
    probe = models.ContainerAppProbe(
        type="Readiness", http_get=models.ContainerAppProbeHttpGet(path=spec.health_path, port=spec.port)
    )
    return models.Template(
        revision_suffix=suffix,
        containers=[models.Container(name=spec.service, image=spec.image, env=env, probes=[probe])],
        scale=scale,
    )


@dataclass(frozen=True)
class LiveTemplate:
    """What a live revision's template says, in the control plane's terms."""

    image: str
    size: int  # minReplicas: the replica count a fixed-size revision was created with; an autoscaled one's floor
    port: int | None
    health_path: str | None
    config_hash: str
    max_size: int = 0  # maxReplicas
    autoscaling: tuple[object, ...] = ()  # ``autoscaling(scale)``: empty for a fixed-size revision

    def differs_from(self, spec: RevisionSpec, scale: models.Scale) -> bool:
        """Whether the revision was made from another spec than ``spec`` (whose scale is ``scale``); a fixed
        count is ``runs``'s to check."""
        wanted = (spec.image, spec.port, spec.health_path, spec.config_hash(), autoscaling(scale))
        return (self.image, self.port, self.health_path, self.config_hash, self.autoscaling) != wanted

    def runs(self, replicas: int) -> bool:
        """Whether the revision, once active, may run ``replicas``: a fixed-size one only its created count, an
        autoscaled one any count its rules may reach."""
        if self.autoscaling:
            return self.size <= replicas <= self.max_size
        return replicas == self.size


def read_template(template: models.Template | None, app: str, secrets: Mapping[str, models.Secret]) -> LiveTemplate:
    """A live template read back. The config hash is recomputed from its env vars and the Key Vault URIs their
    secrets point at, so an out-of-band env change is drift. The container named after the app is read (else
    the first); sidecars are ignored. A secret that is not a Key Vault reference hashes as ``secret:<name>``,
    which no manifest produces: drift too."""
    containers = list(template.containers or []) if template is not None else []
    main = next((c for c in containers if c.name == app), containers[0] if containers else None)
    if template is None or main is None:
        return LiveTemplate("", 0, None, None, config_hash({}, {}))
    configuration: dict[str, str] = {}
    secret_refs: dict[str, str] = {}
    for variable in main.env or []:
        if variable.secret_ref:
            secret = secrets.get(variable.secret_ref)
            uri = secret.key_vault_url if secret is not None else None
            secret_refs[variable.name or ""] = uri or f"secret:{variable.secret_ref}"
        else:
            configuration[variable.name or ""] = variable.value or ""
    http_get = next((p.http_get for p in main.probes or [] if p.http_get is not None), None)
    scale = template.scale
    return LiveTemplate(
        image=main.image or "",
        size=(scale.min_replicas or 0) if scale is not None else 0,
        port=http_get.port if http_get is not None else None,
        health_path=http_get.path if http_get is not None else None,
        config_hash=config_hash(configuration, secret_refs),
        max_size=(scale.max_replicas or 0) if scale is not None else 0,
        autoscaling=autoscaling(scale),
    )


@dataclass
class LiveApp:
    """One container app as read now, with its revisions by Container Apps name."""

    environment: str
    app: models.ContainerApp
    revisions: dict[str, models.Revision] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.app.name or ""

    @property
    def managed(self) -> bool:
        return (self.app.tags or {}).get(MANAGED_TAG) == MANAGED_VALUE

    @property
    def removed(self) -> list[str]:
        return ((self.app.tags or {}).get(REMOVED_TAG) or "").split()

    @property
    def properties(self) -> models.ContainerAppProperties:
        return self.app.properties or models.ContainerAppProperties()

    def revision(self, aca_name: str) -> models.RevisionProperties:
        """A listed revision's properties (the SDK types them optional; a missing block reads as empty)."""
        return self.revisions[aca_name].properties or models.RevisionProperties()

    @property
    def configuration(self) -> models.Configuration:
        return self.properties.configuration or models.Configuration()

    @property
    def traffic(self) -> list[models.TrafficWeight]:
        ingress = self.configuration.ingress
        return list(ingress.traffic or []) if ingress is not None else []

    def visible(self, aca_name: str) -> bool:
        """Active revisions always; inactive ones only on managed apps, and only if not removed."""
        if aca_name not in self.revisions:
            return False
        if self.revision(aca_name).active:
            return True
        return self.managed and suffix_of(self.name, aca_name) not in self.removed

    def template(self, aca_name: str) -> LiveTemplate:
        secrets = {secret.name or "": secret for secret in self.configuration.secrets or []}
        return read_template(self.revision(aca_name).template, self.name, secrets)

    def key_vault_secrets(self) -> list[models.Secret]:
        """The app's secrets as they can be sent back beside a new one (a PATCH replaces the whole list).
        Only Key Vault references can: the provider never returns secret values."""
        kept = []
        for secret in self.configuration.secrets or []:
            if not secret.key_vault_url:
                raise PermanentError(
                    f"{self.environment}/{self.name}: secret {secret.name} is not a Key Vault reference, so it cannot "
                    "be kept when a secret is added; make it a Key Vault reference or remove it"
                )
            kept.append(models.Secret(name=secret.name, key_vault_url=secret.key_vault_url, identity=secret.identity))
        return kept

    def preview(self) -> str | None:
        """The visible revision carrying the preview label, if any."""
        labelled = (entry.revision_name for entry in self.traffic if entry.label == PREVIEW_LABEL)
        return next((name for name in labelled if name and self.visible(name)), None)


def weighted(weights: Mapping[str, int], preview: str | None) -> list[models.TrafficWeight]:
    """``set_traffic``'s entries: one per revision with weight, and the preview label kept on its revision
    (other labels are not ours and are dropped with their entries).

        weights     preview  entries
        a=100       -        a:100
        a=20 b=80   b        a:20, b:80 preview
        a=100 b=0   b        a:100, b:0 preview
    """
    entries = [
        _entry(name, weight, PREVIEW_LABEL if name == preview else None)
        for name, weight in weights.items()
        if weight or name == preview
    ]
    if preview is not None and preview not in weights:
        entries.append(_entry(preview, 0, PREVIEW_LABEL))
    return entries


def relabelled(entries: list[models.TrafficWeight], target: str | None) -> list[models.TrafficWeight]:
    """``set_preview``'s entries: the preview label moved to ``target`` (None: taken off); entries left with
    neither weight nor label are dropped.

        entries               target  entries after
        a:100                 b       a:100, b:0 preview
        a:100, b:0 preview    None    a:100
        a:50, b:50 preview    a       a:50 preview, b:50
    """
    result = []
    for entry in entries:
        if entry.revision_name is not None and entry.revision_name == target:
            label: str | None = PREVIEW_LABEL
        else:
            label = None if entry.label == PREVIEW_LABEL else entry.label
        if entry.weight or label:
            result.append(_entry(entry.revision_name, entry.weight or 0, label, bool(entry.latest_revision)))
    if target is not None and not any(entry.revision_name == target for entry in entries):
        result.append(_entry(target, 0, PREVIEW_LABEL))
    return result


def pinned(entries: list[models.TrafficWeight], latest: str | None) -> list[models.TrafficWeight] | None:
    """The entries with ``latestRevision`` pinned to today's latest revision, so that a new revision takes
    nothing; None when no entry follows the latest revision."""
    if not any(entry.latest_revision for entry in entries):
        return None
    return [
        _entry(latest if entry.latest_revision else entry.revision_name, entry.weight or 0, entry.label)
        for entry in entries
    ]


def _entry(name: str | None, weight: int, label: str | None, latest: bool = False) -> models.TrafficWeight:
    """One traffic entry; unset fields stay off the wire (the SDK omits None)."""
    if latest:
        return models.TrafficWeight(latest_revision=True, weight=weight, label=label)
    return models.TrafficWeight(revision_name=name, weight=weight, label=label)
