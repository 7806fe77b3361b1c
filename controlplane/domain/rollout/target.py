"""A rollout target: one service of a deployment, the revision rolled out and the stable one it replaces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.domain.wire import WireFields


def revision_name(service: str, deployment_id: str) -> str:
    """One revision per deployment, named as Container Apps names revisions (``app--suffix``)."""
    return f"{service}--{deployment_id.removeprefix('dep-')}"


def deployment_of(revision: str) -> str | None:
    """The deployment a revision named by ``revision_name`` belongs to; None for any other name.

    ``orders--3f9a0c21b7d4`` -> ``dep-3f9a0c21b7d4``; ``orders-canary`` -> None."""
    _, separator, suffix = revision.rpartition("--")
    return f"dep-{suffix}" if separator and suffix else None


@dataclass(frozen=True)
class Target:
    """One service of a deployment: the revision being rolled out and the stable one it replaces.

    ``stable_revision`` and ``stable_deployment`` are None for a first release (nothing serves yet).
    """

    service: str
    new_revision: str
    desired: int
    stable_revision: str | None
    stable_replicas: int
    stable_deployment: str | None

    def to_dict(self) -> dict[str, Any]:
        # The wire keys are the field names: running orchestrations and their history carry them.
        return {
            "service": self.service,
            "new_revision": self.new_revision,
            "desired": self.desired,
            "stable_revision": self.stable_revision,
            "stable_replicas": self.stable_replicas,
            "stable_deployment": self.stable_deployment,
        }

    @classmethod
    def read(cls, fields: WireFields) -> Target:
        """Read from ``fields``; bad fields are recorded there (``fields.check()`` raises for them)."""
        return cls(
            service=fields.text("service"),
            new_revision=fields.text("new_revision"),
            desired=fields.integer("desired"),
            stable_revision=fields.optional_text("stable_revision"),
            stable_replicas=fields.integer("stable_replicas"),
            stable_deployment=fields.optional_text("stable_deployment"),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        """The target ``to_dict`` wrote; InvalidInput naming each bad field."""
        fields = WireFields(data, "target")
        target = cls.read(fields)
        fields.check()
        return target
