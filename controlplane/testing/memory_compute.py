"""In-memory Compute: the fake behind unit tests, held to the same contract as local processes.

It records every call in ``calls`` and can be told to fail a revision's start (``fail_start``), so tests
can drive rollouts into rollback without real processes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

from controlplane.domain.runtime import LiveWorkload, RevisionSpec, check_revision_unchanged
from controlplane.domain.traffic import check_weights
from controlplane.errors import NotFound, PermanentError


@dataclass
class _Revision:
    spec: RevisionSpec
    replicas: int


class MemoryCompute:
    """The Compute port in memory. ``calls`` lists ``(method, *arguments)`` in call order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._revisions: dict[tuple[str, str, str], _Revision] = {}
        self._weights: dict[tuple[str, str], dict[str, int]] = {}
        self._failing: dict[str, str] = {}
        self._unmanaged: list[LiveWorkload] = []
        self.previews: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()

    # -- test controls -----------------------------------------------------------------------------------------
    def fail_start(self, revision: str, reason: str = "exited with code 1 before answering GET /") -> None:
        """Make starting replicas of ``revision`` (deploy or scale up) raise PermanentError with ``reason``."""
        self._failing[revision] = reason

    def add_unmanaged(self, workload: LiveWorkload) -> None:
        """Show a workload we did not create in ``inventory`` (for drift tests)."""
        self._unmanaged.append(replace(workload, managed=False))

    def set_image(self, environment: str, service: str, revision: str, image: str) -> None:
        """Change a revision's image behind our back, as ``kubectl set image`` would (for drift tests)."""
        with self._lock:
            wanted = self._revision(environment, service, revision)
            wanted.spec = replace(wanted.spec, image=image)

    # -- the Compute port --------------------------------------------------------------------------------------
    def deploy_revision(self, spec: RevisionSpec) -> None:
        with self._lock:
            self.calls.append(("deploy_revision", spec))
            if spec.replicas < 0:
                raise PermanentError(f"{spec.environment}/{spec.service}/{spec.revision}: replicas must be >= 0")
            existing = self._revisions.get((spec.environment, spec.service, spec.revision))
            if existing is not None:
                check_revision_unchanged(existing.spec, spec)
            if spec.replicas > (existing.replicas if existing else 0):
                self._check_start(spec)
            self._revisions[(spec.environment, spec.service, spec.revision)] = _Revision(
                existing.spec if existing else spec, spec.replicas
            )

    def set_traffic(self, environment: str, service: str, weights: dict[str, int]) -> None:
        with self._lock:
            self.calls.append(("set_traffic", environment, service, dict(weights)))
            check_weights(environment, service, weights)
            for name in weights:
                self._revision(environment, service, name)
            self._weights[(environment, service)] = {name: weight for name, weight in weights.items() if weight}

    def set_preview(self, environment: str, service: str, revision: str | None) -> None:
        with self._lock:
            self.calls.append(("set_preview", environment, service, revision))
            if revision is not None:
                self._revision(environment, service, revision)
            self.previews[(environment, service)] = revision

    def scale(self, environment: str, service: str, revision: str, replicas: int) -> None:
        with self._lock:
            self.calls.append(("scale", environment, service, revision, replicas))
            if replicas < 0:
                raise PermanentError(f"{environment}/{service}/{revision}: replicas must be >= 0 (got {replicas})")
            wanted = self._revision(environment, service, revision)
            if replicas > wanted.replicas:
                self._check_start(wanted.spec)
            wanted.replicas = replicas

    def remove_revision(self, environment: str, service: str, revision: str) -> None:
        with self._lock:
            self.calls.append(("remove_revision", environment, service, revision))
            self._unmanaged = [
                w for w in self._unmanaged if (w.environment, w.service, w.revision) != (environment, service, revision)
            ]
            if (environment, service, revision) not in self._revisions:
                return
            weight = self._weights.get((environment, service), {}).get(revision, 0)
            if weight:
                raise PermanentError(
                    f"{environment}/{service}: revision {revision} still receives {weight}% of traffic; "
                    "shift its traffic to another revision before removing it"
                )
            del self._revisions[(environment, service, revision)]

    def inventory(self, environment: str) -> list[LiveWorkload]:
        with self._lock:
            ours = [
                LiveWorkload(
                    env,
                    service,
                    name,
                    revision.spec.image,
                    revision.replicas,
                    revision.spec.config_hash(),
                    self._weights.get((env, service), {}).get(name, 0),
                )
                for (env, service, name), revision in sorted(self._revisions.items())
                if env == environment
            ]
            return ours + [workload for workload in self._unmanaged if workload.environment == environment]

    def endpoints(self, environment: str, service: str, revision: str) -> list[str]:
        """Made-up replica URLs, one per replica (nothing listens there)."""
        with self._lock:
            wanted = self._revision(environment, service, revision)
            return [f"http://{revision}-{index}.{service}.{environment}.memory" for index in range(wanted.replicas)]

    # -- internals ---------------------------------------------------------------------------------------------
    def _check_start(self, spec: RevisionSpec) -> None:
        reason = self._failing.get(spec.revision)
        if reason is not None:
            raise PermanentError(f"{spec.environment}/{spec.service} revision {spec.revision}: {reason}")

    def _revision(self, environment: str, service: str, revision: str) -> _Revision:
        found = self._revisions.get((environment, service, revision))
        if found is None:
            raise NotFound(f"{environment}/{service}: no revision {revision}; deploy it first")
        return found
