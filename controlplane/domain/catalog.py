"""The service catalog's runtime inventory: what each service of an environment runs after a deployment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controlplane.domain.events import format_time, parse_time


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
            etag=etag,
        )
