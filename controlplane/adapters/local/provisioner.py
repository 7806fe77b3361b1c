"""The Provisioner for local environments: nothing to create in a cloud, but the same contract.

An environment is a folder under ``.local/environments`` holding what it was provisioned from; the stack
outputs are what a workload needs to know about it. Provisioning the same environment again with the
same shape changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from controlplane.domain.manifest import Release
from controlplane.domain.runtime import EnvironmentOutputs
from controlplane.errors import NotFound, PermanentError
from funchost.private_files import write_json_atomically


class LocalProvisioner:
    def __init__(self, root: Path) -> None:
        self._root = root

    def ensure_environment(self, release: Release) -> EnvironmentOutputs:
        environment = release.spec.environment
        if environment.compute != "local":
            raise PermanentError(
                f"spec.environment.compute: the local host provisions only local environments "
                f"(got {environment.compute!r} for {environment.name!r})"
            )
        declared = {
            "environment": environment.name,
            "tier": environment.tier,
            "compute": environment.compute,
            "region": environment.region,
        }
        path = self._path(environment.name)
        changed = not path.exists() or json.loads(path.read_text()) != declared
        if changed:
            write_json_atomically(path, declared)
        return EnvironmentOutputs(environment.name, {**declared, "workdir": str(path.parent)}, changed)

    def outputs(self, environment: str) -> EnvironmentOutputs:
        path = self._path(environment)
        if not path.exists():
            raise NotFound(f"environment {environment!r} was never provisioned here")
        declared = json.loads(path.read_text())
        return EnvironmentOutputs(environment, {**declared, "workdir": str(path.parent)}, changed=False)

    def drift(self, environment: str) -> list[str]:
        """A local environment has no cloud resources to drift: [] once provisioned."""
        self.outputs(environment)
        return []

    def _path(self, environment: str) -> Path:
        return self._root / environment / "environment.json"
