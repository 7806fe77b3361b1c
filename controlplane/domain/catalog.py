"""The service catalog's runtime inventory: what each service of an environment runs after a deployment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controlplane.domain.events import format_time, parse_time
from controlplane.domain.manifest import Release
from controlplane.domain.manifest.service import ScalingPolicy


@dataclass(frozen=True)
class LoopView:
    """What the control loops need of the release that put a service in the catalog, kept with its entry so that a
    tick reads no release (a point read per service: seconds per tick at 1,000 services on a cold instance): the
    path the failure monitor probes and whether a Degraded answer passes, the compute it runs on and its scaling
    policy (None: it has none)."""

    health_path: str
    allow_degraded: bool
    compute: str
    scaling: ScalingPolicy | None

    @classmethod
    def of(cls, release: Release, service: str) -> LoopView:
        return cls(
            health_path=release.health_endpoint(service).path,
            allow_degraded=release.spec.health_gate.allow_degraded,
            compute=release.spec.environment.compute,
            scaling=release.service(service).scaling,
        )

    def to_dict(self) -> dict[str, Any]:
        scaling = self.scaling.model_dump(mode="json", by_alias=True) if self.scaling else None
        return {
            "healthPath": self.health_path,
            "allowDegraded": self.allow_degraded,
            "compute": self.compute,
            "scaling": scaling,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoopView:
        scaling = data.get("scaling")
        return cls(
            health_path=data["healthPath"],
            allow_degraded=bool(data["allowDegraded"]),
            compute=data["compute"],
            scaling=ScalingPolicy.model_validate(scaling) if scaling else None,
        )


@dataclass(frozen=True)
class CatalogEntry:
    """The promoted revision of one service in one environment, and the deployment that put it there."""

    environment: str
    service: str
    deployment_id: str
    revision: str
    image: str
    replicas: int
    config_hash: str
    updated_at: datetime
    loops: LoopView | None = None  # None: stored before entries kept it (the loops read the release)
    etag: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "service": self.service,
            "deploymentId": self.deployment_id,
            "revision": self.revision,
            "image": self.image,
            "replicas": self.replicas,
            "configHash": self.config_hash,
            "updatedAt": format_time(self.updated_at),
            **({"loops": self.loops.to_dict()} if self.loops else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], etag: str | None = None) -> CatalogEntry:
        return cls(
            environment=data["environment"],
            service=data["service"],
            deployment_id=data["deploymentId"],
            revision=data["revision"],
            image=data["image"],
            replicas=int(data["replicas"]),
            config_hash=data["configHash"],
            updated_at=parse_time(data["updatedAt"]),
            loops=LoopView.from_dict(data["loops"]) if data.get("loops") else None,
            etag=etag,
        )
