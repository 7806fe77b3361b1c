"""Where a page of the services listing (``GET /api/services``) and of the drift findings listing
(``GET /api/drift/findings``) starts: continuation tokens (``domain.paging``) naming the first item of a page.

Services are listed by environment then service (the Catalog table's key order); findings oldest first, by when
they were first seen, then id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.events import format_time
from controlplane.domain.findings import DriftFinding
from controlplane.domain.paging import decode_token, encode_token

_NAME = re.compile(r"[^\x00-\x1f]{1,200}")
_FINDING = {"firstSeen": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z"), "id": _NAME}


@dataclass(frozen=True)
class ServicePosition:
    """The first catalog entry of a page (inclusive)."""

    environment: str
    service: str

    def token(self) -> str:
        return encode_token("services", {"environment": self.environment, "service": self.service})

    @classmethod
    def from_token(cls, token: str) -> ServicePosition:
        """The position a continuation holds; InvalidToken if the services listing did not hand it out."""
        position = decode_token("services", token, {"environment": _NAME, "service": _NAME})
        return cls(position["environment"], position["service"])


@dataclass(frozen=True)
class CatalogPage:
    """Catalog entries by environment then service; ``next`` starts the next page (None: there is none)."""

    entries: Sequence[CatalogEntry]
    next: ServicePosition | None


@dataclass(frozen=True)
class FindingPosition:
    """The first finding of a page (inclusive): when it was first seen (``format_time``) and its id."""

    first_seen: str
    id: str

    def token(self) -> str:
        return encode_token("findings", {"firstSeen": self.first_seen, "id": self.id})

    @classmethod
    def from_token(cls, token: str) -> FindingPosition:
        """The position a continuation holds; InvalidToken if the findings listing did not hand it out."""
        position = decode_token("findings", token, _FINDING)
        return cls(position["firstSeen"], position["id"])

    @classmethod
    def of(cls, finding: DriftFinding) -> FindingPosition:
        return cls(format_time(finding.first_seen), finding.id)


@dataclass(frozen=True)
class FindingPage:
    """Findings oldest first; ``next`` starts the next page (None: there is none)."""

    findings: Sequence[DriftFinding]
    next: FindingPosition | None
