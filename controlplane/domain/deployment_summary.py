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

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from controlplane.domain.audit import audit_row, row_bound
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.events import format_time, parse_time
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


def index_row(position: DeploymentPosition) -> str:
    """The listing index's row key of a deployment: its creation time inverted (newest first), then its id."""
    return audit_row(parse_time(position.created_at), position.id)


# How far back each read of a page reaches, from its first row: a page is read a window at a time, each wider than
# the last, the last one open. A deployment an hour: 1 hour, 8 hours, 3, 21 and 171 days, 3.7 years, then older.
#
#   page's first row at   windows read (created between ...)                     reads for 50 a minute / a day apart
#   12:00 (now)           12:00..11:00, 11:00..03:00, 03:00..3 days before, ...  1 (60 in the first hour) / 5
#
# Why: the local host's Azurite sorts every row a query matches before it answers the first (Table storage reads
# a key range in order, and stops), so an open range over 10,000 deployments costs a sort of 10,000 rows a page.
WINDOWS = (
    timedelta(hours=1),
    timedelta(hours=8),
    timedelta(days=3),
    timedelta(days=21),
    timedelta(days=171),
    timedelta(days=1365),
)
_FUTURE_SLACK = timedelta(days=1)  # another instance's clock may be ahead: its newest deployment is still listed


@dataclass(frozen=True)
class DeploymentQuery:
    """Deployments of an environment, with a service, in a state (any when None), newest first, ``limit`` a
    page, from ``start`` on; ``now`` (when given) anchors the first page's windows (``row_ranges``)."""

    environment: str | None = None
    service: str | None = None
    state: DeploymentState | None = None
    limit: int = DEFAULT_LIMIT
    start: DeploymentPosition | None = None
    now: datetime | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT} (got {self.limit})")
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")

    def row_ranges(self) -> list[tuple[str | None, str | None]]:
        """The index's row ranges to read in turn, newest first: (first row inclusive, last exclusive), None open.
        From ``start`` (or ``now``) back through ``WINDOWS``, then everything older; one open range when the
        query has neither."""
        if self.start is not None:
            first: str | None = index_row(self.start)
            anchor = parse_time(self.start.created_at)
        elif self.now is not None:
            anchor = self.now + _FUTURE_SLACK
            first = row_bound(anchor)
        else:
            return [(None, None)]
        ranges: list[tuple[str | None, str | None]] = []
        for window in WINDOWS:
            anchor -= window
            stop = row_bound(anchor)
            ranges.append((first, stop))
            first = stop
        return [*ranges, (first, None)]


@dataclass(frozen=True)
class DeploymentPage:
    """A page of summaries, newest first; ``next`` is where the next page starts (None: nothing more matches)."""

    deployments: Sequence[Mapping[str, Any]]
    next: DeploymentPosition | None

    @cached_property
    def encoded(self) -> str:
        """The page as ``GET /api/deployments`` answers it, encoded once: a page kept in memory (the store's cache)
        is served to many requests, and encoding 50 summaries is most of what serving it costs."""
        return json.dumps(
            {"deployments": list(self.deployments), "continuation": self.next.token() if self.next else None}
        )
