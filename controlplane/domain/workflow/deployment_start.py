"""The deployment orchestration's start input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.domain.access import Actor
from controlplane.domain.deployment import Deployment
from controlplane.domain.manifest import Release, parse_release
from controlplane.domain.wire import WireFields


@dataclass(frozen=True)
class DeploymentStart:
    """What the deployment orchestrator runs: a recorded deployment's id, trace and release.

    ``pre_approved`` names who approved a prod promotion already (an operator's drift approval, the failure
    monitor restoring the last Completed release); without it, promotion to prod waits for an approval.
    ``requested_by`` and ``four_eyes`` are the record's (``Deployment``): who asked, and whether an approval
    needs someone else (the orchestration checks every approval signal against them).
    """

    deployment_id: str
    trace_id: str
    release: Release
    pre_approved: str | None = None
    requested_by: Actor | None = None
    four_eyes: bool = False

    @classmethod
    def of(cls, deployment: Deployment, pre_approved: str | None = None) -> DeploymentStart:
        return cls(
            deployment.id,
            deployment.traceid,
            deployment.release,
            pre_approved,
            deployment.requested_by,
            deployment.four_eyes,
        )

    def to_dict(self) -> dict[str, Any]:
        start: dict[str, Any] = {
            "deploymentId": self.deployment_id,
            "traceId": self.trace_id,
            "release": self.release.to_dict(),
        }
        if self.pre_approved:
            start["preApproved"] = self.pre_approved
        if self.requested_by:
            start["requestedBy"] = self.requested_by.to_dict()
        return {**start, "fourEyes": True} if self.four_eyes else start

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeploymentStart:
        """The input ``to_dict`` wrote; InvalidInput naming each bad field (``release.spec...`` for the manifest)."""
        fields = WireFields(data)
        start = cls(
            deployment_id=fields.text("deploymentId"),
            trace_id=fields.text("traceId", ""),
            release=fields.parsed("release", parse_release, "release manifest"),  # type: ignore[arg-type]
            pre_approved=fields.optional_text("preApproved"),
            requested_by=fields.parsed("requestedBy", Actor.from_dict, "actor") if fields.has("requestedBy") else None,
            four_eyes=fields.boolean("fourEyes", False),
        )
        fields.check()
        return start

    @staticmethod
    def instance_id(data: Mapping[str, Any]) -> str:
        """The deployment id of a start that is forwarded unread (the drift run starting its corrective
        deployments): it is the orchestration's instance id. Parsing each release there would cost a
        manifest validation per finding on every replay of the run."""
        fields = WireFields(data)
        deployment_id = fields.text("deploymentId")
        fields.check()
        return deployment_id
