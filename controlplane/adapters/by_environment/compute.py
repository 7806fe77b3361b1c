"""The Compute port over several runtimes: each environment's calls go to its own adapter.

A release names its environment's compute (``containerapps`` or ``aks``); the Function App is configured
with where each environment lives (``CONTROLPLANE_ENVIRONMENTS``). This adapter is the one Compute the
core sees, and passes each call to the adapter of the environment it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from controlplane.domain.runtime import LiveWorkload, RevisionSpec
from controlplane.errors import NotFound
from controlplane.ports import Compute


class ComputeByEnvironment:
    """Routes every Compute call by its environment; an environment with no adapter is NotFound."""

    def __init__(self, adapters: Mapping[str, Compute]) -> None:
        self._adapters = MappingProxyType(dict(adapters))

    def of(self, environment: str) -> Compute:
        adapter = self._adapters.get(environment)
        if adapter is None:
            known = ", ".join(sorted(self._adapters)) or "none"
            raise NotFound(
                f"environment {environment!r} has no compute configured (CONTROLPLANE_ENVIRONMENTS has {known})"
            )
        return adapter

    def deploy_revision(self, spec: RevisionSpec) -> None:
        self.of(spec.environment).deploy_revision(spec)

    def set_traffic(self, environment: str, service: str, weights: dict[str, int]) -> None:
        self.of(environment).set_traffic(environment, service, weights)

    def set_preview(self, environment: str, service: str, revision: str | None) -> None:
        self.of(environment).set_preview(environment, service, revision)

    def scale(self, environment: str, service: str, revision: str, replicas: int) -> None:
        self.of(environment).scale(environment, service, revision, replicas)

    def remove_revision(self, environment: str, service: str, revision: str) -> None:
        self.of(environment).remove_revision(environment, service, revision)

    def inventory(self, environment: str) -> list[LiveWorkload]:
        return self.of(environment).inventory(environment)

    def endpoints(self, environment: str, service: str, revision: str) -> list[str]:
        """Base URLs of the revision's replicas (what the health probe resolves), from its adapter."""
        return self.of(environment).endpoints(environment, service, revision)  # type: ignore[attr-defined]
