"""The Provisioner for environments the platform stack already built (``CONTROLPLANE_ENVIRONMENTS``).

When the Function App has no Pulumi backend (``PULUMI_BACKEND_URL``) to run environment stacks with, the
environments are the ones ``infra/`` deployed with the platform: ensuring one checks that the release names
an environment that exists with the compute it asks for, and returns where it is. Nothing is changed.
"""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.config_azure import Placement
from controlplane.domain.manifest import Release
from controlplane.domain.runtime import EnvironmentOutputs
from controlplane.errors import NotFound, PermanentError


class PlacedEnvironments:
    """Provisioner over fixed placements: ``ensure_environment`` verifies, ``outputs`` reports."""

    def __init__(self, placements: Mapping[str, Placement]) -> None:
        self._placements = dict(placements)

    def ensure_environment(self, release: Release) -> EnvironmentOutputs:
        """The environment's outputs; PermanentError if it is not one of the platform's, or runs other compute."""
        environment = release.spec.environment
        placement = self._placements.get(environment.name)
        if placement is None:
            known = ", ".join(sorted(self._placements)) or "none"
            raise PermanentError(
                f"spec.environment.name: {environment.name!r} is not an environment of the platform ({known}); "
                "add it to the platform stack's environments, or set PULUMI_BACKEND_URL to provision it"
            )
        if placement.compute != environment.compute:
            raise PermanentError(
                f"spec.environment.compute: {environment.name!r} runs {placement.compute} "
                f"(got {environment.compute!r})"
            )
        return EnvironmentOutputs(environment.name, _outputs(placement), changed=False)

    def outputs(self, environment: str) -> EnvironmentOutputs:
        placement = self._placements.get(environment)
        if placement is None:
            raise NotFound(f"environment {environment!r} is not one of the platform's")
        return EnvironmentOutputs(environment, _outputs(placement), changed=False)


    def drift(self, environment: str) -> list[str]:
        """The platform stack owns these environments (``pulumi refresh`` there): nothing to report here."""
        self.outputs(environment)
        return []


def _outputs(placement: Placement) -> dict[str, str]:
    outputs = {
        "compute": placement.compute,
        "subscriptionId": placement.subscription_id,
        "resourceGroup": placement.resource_group,
        "location": placement.location,
        "managedEnvironmentId": placement.managed_environment_id,
        "cluster": placement.cluster,
    }
    return {key: value for key, value in outputs.items() if value}
