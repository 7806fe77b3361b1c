"""The local provisioner, the platform's placed environments and the recording fake pass one contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.adapters.azure.placed.provisioner import PlacedEnvironments
from controlplane.adapters.local.provisioner import LocalProvisioner
from controlplane.config_azure import Placement
from controlplane.domain.manifest import Release, parse_release
from controlplane.testing.fakes import RecordingProvisioner
from tests.builders import release_document
from tests.contracts.provisioner import ProvisionerContract


def releases_on(compute: str) -> Callable[[str], Release]:
    def release(environment: str) -> Release:
        document = release_document(environment)
        document["spec"]["environment"].update({"compute": compute, "region": "westeurope"})
        return parse_release(document)

    return release


class TestLocalProvisioner(ProvisionerContract):
    @pytest.fixture
    def provisioner(self, tmp_path: Path) -> Any:
        return LocalProvisioner(tmp_path)

    @pytest.fixture
    def release(self) -> Callable[[str], Release]:
        def local(environment: str) -> Release:
            return parse_release(release_document(environment))

        return local


class TestPlacedEnvironments(ProvisionerContract):
    @pytest.fixture
    def provisioner(self) -> Any:
        return PlacedEnvironments({"dev": Placement("aks", "sub", "cp-env-dev", "westeurope", cluster="dev")})

    @pytest.fixture
    def release(self) -> Callable[[str], Release]:
        return releases_on("aks")


class TestRecordingProvisioner(ProvisionerContract):
    @pytest.fixture
    def provisioner(self) -> Any:
        return RecordingProvisioner()

    @pytest.fixture
    def release(self) -> Callable[[str], Release]:
        return releases_on("containerapps")
