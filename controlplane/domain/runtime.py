"""Value types the runtime ports exchange: revisions to run, what is live, metrics, stack outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from controlplane.domain.config_hash import config_hash
from controlplane.domain.manifest.service import ScalingPolicy
from controlplane.errors import PermanentError


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class RevisionSpec:
    """One immutable revision of a service as Compute should run it.

    Secrets are Key Vault references by environment-variable name; values are resolved by the runtime
    (Container Apps Key Vault references, the AKS CSI driver, the local host) and never pass through here.
    ``scaling`` is the service's ScalingPolicy: the control plane's scaling loop applies it through ``scale``,
    except on Container Apps, whose revisions carry it as their own scale rules.
    """

    environment: str
    service: str
    revision: str
    image: str
    replicas: int
    port: int
    health_path: str
    configuration: Mapping[str, str] = field(default_factory=dict)
    secret_refs: Mapping[str, str] = field(default_factory=dict)
    scaling: ScalingPolicy | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "configuration", _frozen(self.configuration))
        object.__setattr__(self, "secret_refs", _frozen(self.secret_refs))

    def config_hash(self) -> str:
        return config_hash(self.configuration, self.secret_refs)


def check_revision_unchanged(existing: RevisionSpec, wanted: RevisionSpec) -> None:
    """Revisions are immutable apart from their replica count: anything else needs a new revision name.

    PermanentError (no retry can fix it) when ``wanted`` differs from ``existing`` in more than replicas.
    """
    if existing != replace(wanted, replicas=existing.replicas):
        raise revision_changed(wanted)


def revision_changed(wanted: RevisionSpec, differs_in: str = "image or configuration") -> PermanentError:
    """The refusal of a revision name that exists with another spec (each Compute says what it compared)."""
    return PermanentError(
        f"{wanted.environment}/{wanted.service}: revision {wanted.revision} exists with a different {differs_in}; "
        "revisions are immutable, deploy under a new revision name"
    )


@dataclass(frozen=True)
class LiveWorkload:
    """One revision as Compute observes it; ``managed`` is False for workloads we did not create."""

    environment: str
    service: str
    revision: str
    image: str
    replicas: int
    config_hash: str
    traffic_percent: int
    managed: bool = True

    def to_dict(self) -> dict[str, str | int | bool]:
        """The wire form operators see (drift diffs, ``GET /api/services``)."""
        return {
            "revision": self.revision,
            "image": self.image,
            "replicas": self.replicas,
            "configHash": self.config_hash,
            "trafficPercent": self.traffic_percent,
            "managed": self.managed,
        }


@dataclass(frozen=True)
class EnvironmentOutputs:
    """What provisioning an environment produced: the stack outputs and whether anything changed."""

    environment: str
    outputs: Mapping[str, str]
    changed: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "outputs", _frozen(self.outputs))


class MetricKind(StrEnum):
    CPU = "cpu"
    QUEUE = "queue"
    RPS = "rps"


@dataclass(frozen=True)
class MetricReading:
    """One metric of one service; ``value`` is None when there is no data (no data is not zero)."""

    metric: MetricKind
    value: float | None
    error: str | None = None
