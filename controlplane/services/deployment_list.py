"""The deployments listing a page at a time: newest first, keyed by (creation time, id) so a page boundary holds
while new deployments arrive (they are newer: they never shift a later page)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.events import format_time
from controlplane.domain.paging import DEFAULT_LIMIT, decode_token, encode_token
from controlplane.ports import Deployments

_POSITION = {
    "createdAt": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z"),
    "id": re.compile(r"[^\x00-\x1f]{1,200}"),
}


@dataclass(frozen=True)
class DeploymentPosition:
    """The first deployment of a page (inclusive): its creation time (``format_time``) and id."""

    created_at: str
    id: str

    def token(self) -> str:
        return encode_token("deployments", {"createdAt": self.created_at, "id": self.id})

    @classmethod
    def from_token(cls, token: str) -> DeploymentPosition:
        """The position a continuation holds; InvalidToken if the deployments listing did not hand it out."""
        position = decode_token("deployments", token, _POSITION)
        return cls(position["createdAt"], position["id"])

    @classmethod
    def of(cls, deployment: Deployment) -> DeploymentPosition:
        return cls(format_time(deployment.created_at), deployment.id)


@dataclass(frozen=True)
class DeploymentPage:
    deployments: list[Deployment]
    next: DeploymentPosition | None


def page_deployments(
    deployments: Deployments,
    *,
    environment: str | None = None,
    service: str | None = None,
    state: DeploymentState | None = None,
    limit: int = DEFAULT_LIMIT,
    start: DeploymentPosition | None = None,
) -> DeploymentPage:
    """``limit`` deployments matching the filters, newest first, from ``start`` on; ``next`` starts the next page.

    The port answers every match and this keeps one page: the Deployments table is keyed by id, so a newest-first
    page costs a read of the matching deployments (the environment and state filters run in the table service)."""
    listed = deployments.list_deployments(environment=environment, service=service, state=state)
    if start is not None:
        listed = [found for found in listed if _key(DeploymentPosition.of(found)) <= _key(start)]
    following = DeploymentPosition.of(listed[limit]) if len(listed) > limit else None
    return DeploymentPage(listed[:limit], following)


def _key(position: DeploymentPosition) -> tuple[str, str]:
    return position.created_at, position.id
