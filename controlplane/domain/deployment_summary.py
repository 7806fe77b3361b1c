"""A deployment as the listing shows it, and where a page of the listing starts.

The summary keeps every key of the full record (``Deployment.to_dict``) so a client of the list reads the same
names, with the heavy values cut down: ``release`` keeps its ``apiVersion``, ``kind`` and ``metadata`` (not the
``spec``), and each service's progress keeps ``phase``, ``revision``, ``trafficPercent`` and ``message`` (not
``lastHealth`` nor ``trafficHistory``). ``createdAt`` and ``updatedAt`` are added. ``GET /api/deployments/{id}``
answers the whole record.

The listing is newest first, keyed by (creation time, id), so a page boundary holds while deployments arrive
(they are newer: they never shift a later page).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.events import format_time
from controlplane.domain.paging import DEFAULT_LIMIT, MAX_LIMIT, decode_token, encode_token

_POSITION = {
    "createdAt": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z"),
    "id": re.compile(r"[^\x00-\x1f]{1,200}"),
}
SUMMARY_PROGRESS = (  # what a summary keeps of each service's progress
    "phase",
    "revision",
    "trafficPercent",
    "message",
)


def summary_of(deployment: Deployment) -> dict[str, Any]:
    """The listing's view of ``deployment`` (see the module's docstring)."""
    full = deployment.to_dict()
    release = {key: value for key, value in full["release"].items() if key != "spec"}
    services = {name: {key: progress[key] for key in SUMMARY_PROGRESS} for name, progress in full["services"].items()}
    return {
        **full,
        "release": release,
        "services": services,
        "createdAt": format_time(deployment.created_at),
        "updatedAt": format_time(deployment.updated_at),
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
class DeploymentQuery:
    """Deployments of an environment, with a service, in a state (any when None), newest first, ``limit`` a
    page, from ``start`` on."""

    environment: str | None = None
    service: str | None = None
    state: DeploymentState | None = None
    limit: int = DEFAULT_LIMIT
    start: DeploymentPosition | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT} (got {self.limit})")


@dataclass(frozen=True)
class DeploymentPage:
    """A page of summaries, newest first; ``next`` is where the next page starts (None: nothing more matches)."""

    deployments: Sequence[Mapping[str, Any]]
    next: DeploymentPosition | None
