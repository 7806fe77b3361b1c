"""In-memory DesiredState: the fake behind unit tests, held to the same contract as the Git adapter."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable

from controlplane.domain.manifest import Release


class MemoryDesiredState:
    """The DesiredState port in memory; ``set_releases`` replaces the whole desired state, in apply order."""

    def __init__(self, releases: Iterable[Release] = ()) -> None:
        self._lock = threading.Lock()
        self._releases: tuple[Release, ...] = ()
        self._revision = ""
        self.set_releases(releases)

    def set_releases(self, releases: Iterable[Release]) -> None:
        """Make ``releases`` (in apply order) the desired state, as a new commit would."""
        releases = tuple(releases)
        with self._lock:
            self._releases, self._revision = releases, content_revision(releases)

    def releases(self, environment: str) -> list[Release]:
        """The releases of ``environment`` in apply order ([] if none)."""
        with self._lock:
            return [release for release in self._releases if release.spec.environment.name == environment]

    def environments(self) -> list[str]:
        """The sorted, distinct environment names of all releases."""
        with self._lock:
            return sorted({release.spec.environment.name for release in self._releases})

    def revision(self) -> str:
        """The content hash of the current releases: equal content, equal revision."""
        with self._lock:
            return self._revision


def content_revision(releases: Iterable[Release]) -> str:
    """``sha256:<hex>`` of the releases' wire form, in order."""
    wire = json.dumps([release.to_dict() for release in releases], sort_keys=True, separators=(",", ":"))
    return f"sha256:{hashlib.sha256(wire.encode()).hexdigest()}"
