"""Drift classification: compare desired services with live workloads and say what diverged and who fixes it.

Pure and linear: one pass over the live inventory to pick each service's serving revision, one dict
lookup per desired service, and field-by-field comparison of four values. Only drifted services build a
diff, so 10,000 workloads classify in a few milliseconds (``bench/drift.py``).

Rules, in the order they apply to one (environment, service):

- The serving revision is the managed workload with the highest ``traffic_percent`` (ties: the highest
  revision name, so the choice is stable).
- ``missing``: desired, but no managed workload is live. Always ``REVIEW``; a whole service vanishing is
  not something to recreate blindly.
- ``unmanaged``: a live workload we did not create (``managed=False``), or any workload of a service that
  is not desired. Always ``REVIEW``. One item per (environment, service) listing each revision under
  ``/revisions/<revision>``.
- ``mismatch``: the serving revision differs in ``/image``, ``/replicas``, ``/configHash`` or ``/secrets``,
  or ``/traffic`` is not all on the revision the catalog promoted.
  ``AUTO``: redeploying the manifest restores it. Replicas inside the scaling policy's ``[min, max]`` are
  not drift (the scaling loop owns them). Pointers in ``ignore`` are dropped (like Argo CD
  ignoreDifferences); a mismatch left with no pointers is not reported.
- ``quarantined``: a mismatch whose *desired* image was rolled back earlier. ``REVIEW``: drift must never
  redeploy a rolled-back revision automatically (the Argo CD auto-sync-after-rollback trap).

Secrets: ``LiveWorkload`` carries only the config hash, which already covers secret references; pass
``live_secret_refs`` (when Compute can report them) to name ``/secrets`` as well.

Worked examples (live = the serving revision; the last row comes in addition to any mismatch):

======================  ========  ==============  ==========  ===========  =================================
desired                 scaling   live            ignore      kind         diff, remedy
======================  ========  ==============  ==========  ===========  =================================
orders:1.0 x2           -         orders:1.0 x2   -           (none)       -
orders:1.0 x2 (r2)      -         r2 80%, r1 20%  -           mismatch     /traffic {r2:100}->{r1:20,r2:80}, AUTO
orders:1.0 x2           -         orders:9.9 x2   -           mismatch     /image 1.0->9.9, AUTO
orders:1.0 x2           -         orders:1.0 x5   -           mismatch     /replicas 2->5, AUTO
orders:1.0 x2           [1, 10]   orders:1.0 x5   -           (none)       the scaling loop's business
orders:1.0 x2           [1, 10]   orders:1.0 x12  -           mismatch     /replicas 2->12, AUTO
orders:1.0 hash a       -         hash b          -           mismatch     /configHash a->b, AUTO
orders:1.0 x2           -         orders:1.0 x5   /replicas   (none)       nothing left after ignore
orders:1.0 x2           -         orders:9.9 x5   /replicas   mismatch     /image only, AUTO
orders:2.0 quarantined  -         orders:1.0 x2   -           quarantined  /image 2.0->1.0, REVIEW
orders:1.0 x2           -         (nothing)       -           missing      "" desired->null, REVIEW
(not desired)           -         cache:7 x1      -           unmanaged    /revisions/cache-r1, REVIEW
orders:1.0 x2           -         + unmanaged x   -           unmanaged    /revisions/x, REVIEW
======================  ========  ==============  ==========  ===========  =================================
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from controlplane.domain.findings import Remedy
from controlplane.domain.manifest import Release
from controlplane.domain.runtime import LiveWorkload

DriftKind = Literal["mismatch", "missing", "unmanaged", "quarantined", "infrastructure"]
Key = tuple[str, str]

IMAGE = "/image"
REPLICAS = "/replicas"
CONFIG_HASH = "/configHash"
SECRETS = "/secrets"
TRAFFIC = "/traffic"
ROOT = ""
INFRASTRUCTURE = "~infrastructure"


@dataclass(frozen=True)
class DesiredService:
    """What one service should look like in one environment, as drift compares it.

    ``secret_refs`` are ``NAME=keyVaultSecretUri`` strings, sorted. ``ignore`` lists JSON pointers
    (``/replicas``) whose differences are never drift; a pointer also ignores everything below it.
    ``revision`` is the revision the service catalog says was promoted, which should take all the traffic
    (None: traffic is not compared, e.g. a service never deployed).
    """

    environment: str
    service: str
    image: str
    replicas: int
    config_hash: str
    secret_refs: tuple[str, ...]
    min_replicas: int | None
    max_replicas: int | None
    ignore: tuple[str, ...] = ()
    revision: str | None = None

    @property
    def key(self) -> Key:
        return (self.environment, self.service)

    def replicas_acceptable(self, live: int) -> bool:
        """True when ``live`` replicas are not drift: equal, or inside the scaling policy's bounds."""
        if self.min_replicas is None and self.max_replicas is None:
            return live == self.replicas
        low = 0 if self.min_replicas is None else self.min_replicas
        return low <= live and (self.max_replicas is None or live <= self.max_replicas)

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "replicas": self.replicas,
            "configHash": self.config_hash,
            "secrets": list(self.secret_refs),
        }


def secret_references(bindings: Mapping[str, str]) -> tuple[str, ...]:
    """The ``NAME=uri`` form of secret bindings (by variable name) that drift compares, sorted."""
    return tuple(sorted(f"{name}={uri}" for name, uri in bindings.items()))


def from_release(release: Release) -> list[DesiredService]:
    """One DesiredService per service of ``release``, with the service's ``ignoreDifferences``."""
    environment = release.spec.environment.name
    desired = []
    for spec in release.spec.services:
        scaling = spec.scaling
        desired.append(
            DesiredService(
                environment=environment,
                service=spec.name,
                image=spec.image,
                replicas=spec.replicas,
                config_hash=spec.config_hash(),
                secret_refs=secret_references({s.name: s.key_vault_secret_uri for s in spec.secrets}),
                min_replicas=(0 if scaling.scale_to_zero else scaling.min_replicas) if scaling else None,
                max_replicas=scaling.max_replicas if scaling else None,
                ignore=tuple(spec.ignore_differences),
            )
        )
    return desired


@dataclass(frozen=True)
class DriftItem:
    """One divergence of one service; ``diff`` maps a JSON pointer to ``{"desired": ..., "actual": ...}``."""

    environment: str
    service: str
    kind: DriftKind
    remedy: Remedy
    diff: Mapping[str, Mapping[str, Any]]

    def __post_init__(self) -> None:
        object.__setattr__(self, "diff", MappingProxyType(dict(self.diff)))

    def fingerprint(self) -> str:
        """sha256 hex of kind and diff; equal across runs while the divergence is unchanged.

        It does not include environment and service: pair it with them to identify a finding.
        """
        canonical = {"kind": self.kind, "diff": {pointer: dict(change) for pointer, change in self.diff.items()}}
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def classify(
    desired: Iterable[DesiredService],
    actual: Iterable[LiveWorkload],
    quarantined: frozenset[tuple[str, str, str]] = frozenset(),
    live_secret_refs: Mapping[Key, tuple[str, ...]] | None = None,
) -> list[DriftItem]:
    """Every drift of ``actual`` from ``desired``, ordered by (environment, service, kind).

    ``actual`` should be the whole inventory of the environments ``desired`` covers: a workload of a
    service that is not desired is reported as unmanaged. ``quarantined`` holds (environment, service,
    image) rolled back earlier. ``live_secret_refs`` optionally gives the serving revision's secret
    references per (environment, service), in ``secret_references`` form.
    """
    wanted = {spec.key: spec for spec in desired}
    serving: dict[Key, LiveWorkload] = {}
    strays: dict[Key, list[LiveWorkload]] = {}
    splits: dict[Key, dict[str, int]] = {}
    for workload in actual:
        key = (workload.environment, workload.service)
        if not workload.managed or key not in wanted:
            strays.setdefault(key, []).append(workload)
            continue
        if 0 < workload.traffic_percent < 100:  # a split; 100 % on one revision needs no record beyond serving
            splits.setdefault(key, {})[workload.revision] = workload.traffic_percent
        best = serving.get(key)
        if best is None or (workload.traffic_percent, workload.revision) > (best.traffic_percent, best.revision):
            serving[key] = workload

    secrets = live_secret_refs or {}
    items: list[DriftItem] = []
    for key, spec in wanted.items():
        live = serving.get(key)
        if live is None:
            items.append(DriftItem(*key, "missing", Remedy.REVIEW, {ROOT: {"desired": spec.to_dict(), "actual": None}}))
            continue
        diff = _mismatch(spec, live, secrets.get(key), splits.get(key, {}))
        if diff:
            if (spec.environment, spec.service, spec.image) in quarantined:
                items.append(DriftItem(*key, "quarantined", Remedy.REVIEW, diff))
            else:
                items.append(DriftItem(*key, "mismatch", Remedy.AUTO, diff))

    for key, workloads in strays.items():
        ordered = sorted(workloads, key=lambda w: w.revision)
        diff = {_revision_pointer(w.revision): {"desired": None, "actual": _live_dict(w)} for w in ordered}
        items.append(DriftItem(*key, "unmanaged", Remedy.REVIEW, diff))

    items.sort(key=lambda item: (item.environment, item.service, item.kind))
    return items


def _mismatch(
    spec: DesiredService, live: LiveWorkload, live_secrets: tuple[str, ...] | None, split: Mapping[str, int]
) -> dict[str, Any]:
    """The differing pointers of one serving revision (and the service's traffic split), after the scaling
    range and ignore rules."""
    diff: dict[str, Any] = {}
    if live.image != spec.image:
        diff[IMAGE] = {"desired": spec.image, "actual": live.image}
    if not spec.replicas_acceptable(live.replicas):
        diff[REPLICAS] = {"desired": spec.replicas, "actual": live.replicas}
    if live.config_hash != spec.config_hash:
        diff[CONFIG_HASH] = {"desired": spec.config_hash, "actual": live.config_hash}
    if live_secrets is not None and tuple(live_secrets) != spec.secret_refs:
        diff[SECRETS] = {"desired": list(spec.secret_refs), "actual": list(live_secrets)}
    if spec.revision is not None and (live.revision != spec.revision or live.traffic_percent != 100):
        actual = split or ({live.revision: live.traffic_percent} if live.traffic_percent else {})
        diff[TRAFFIC] = {"desired": {spec.revision: 100}, "actual": dict(sorted(actual.items()))}
    if diff and spec.ignore:
        diff = {pointer: change for pointer, change in diff.items() if not _ignored(pointer, spec.ignore)}
    return diff


def _ignored(pointer: str, ignore: tuple[str, ...]) -> bool:
    return any(pointer == rule or pointer.startswith(rule + "/") for rule in ignore)


def _revision_pointer(revision: str) -> str:
    return pointer("revisions", revision)


def pointer(*tokens: str) -> str:
    """A JSON pointer of ``tokens`` (RFC 6901: "~" and "/" inside a token are escaped as "~0" and "~1")."""
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def token_of(pointer_text: str, prefix: str) -> str:
    """The token after ``/<prefix>/`` in a pointer made by ``pointer(prefix, token)``, unescaped."""
    return pointer_text.removeprefix(f"/{prefix}/").replace("~1", "/").replace("~0", "~")


def infrastructure_drift(environment: str, resources: Iterable[str]) -> DriftItem | None:
    """One review-required item for an environment's drifted infrastructure (None when nothing drifted).

    Its service is ``INFRASTRUCTURE``, which no service can be named (service names are DNS labels).
    """
    diff = {
        pointer("infrastructure", urn): {"desired": "as its stack records it", "actual": "changed outside the stack"}
        for urn in resources
    }
    return DriftItem(environment, INFRASTRUCTURE, "infrastructure", Remedy.REVIEW, diff) if diff else None


def _live_dict(workload: LiveWorkload) -> dict[str, Any]:
    found = workload.to_dict()
    del found["revision"]  # the pointer names it
    return found
