"""Value types the runtime ports exchange: revisions to run, what is live, metrics, stack outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from controlplane.domain.config_hash import config_hash
from controlplane.domain.manifest.service import ScalingPolicy


def image_version(image: str) -> str:
    """``reg.io/orders:1.2.0`` → ``1.2.0``; ``orders@sha256:ab..`` → ``sha256:ab..``; untagged → ``latest``."""
    if "@" in image:
        return image.split("@", 1)[1]
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else "latest"


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
