"""The Provisioner contract: local, the platform's placed environments, and the recording fake pass it.

Subclasses provide ``provisioner`` and ``release``: a function of an environment name giving a release the
provisioner accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controlplane.domain.manifest import Release
from controlplane.errors import NotFound


class ProvisionerContract:
    def test_ensuring_returns_the_environments_outputs(
        self, provisioner: Any, release: Callable[[str], Release]
    ) -> None:
        outputs = provisioner.ensure_environment(release("dev"))
        assert outputs.environment == "dev" and all(isinstance(v, str) for v in outputs.outputs.values())
        assert dict(provisioner.outputs("dev").outputs) == dict(outputs.outputs)

    def test_ensuring_again_changes_nothing(self, provisioner: Any, release: Callable[[str], Release]) -> None:
        provisioner.ensure_environment(release("dev"))
        again = provisioner.ensure_environment(release("dev"))
        assert again.changed is False

    def test_outputs_of_an_unknown_environment_are_not_found(self, provisioner: Any) -> None:
        with pytest.raises(NotFound):
            provisioner.outputs("never-provisioned")

    def test_a_freshly_provisioned_environment_has_no_drift(
        self, provisioner: Any, release: Callable[[str], Release]
    ) -> None:
        provisioner.ensure_environment(release("dev"))
        assert provisioner.drift("dev") == []
        with pytest.raises(NotFound):
            provisioner.drift("never-provisioned")
