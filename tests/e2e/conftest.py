"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from funchost.azurite import Azurite
from tests.e2e.host_process import HostProcess, product_settings


@pytest.fixture(scope="module")
def product(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    """The product's host for one test module: its own tables, task hub and local folder on the shared Azurite."""
    local = tmp_path_factory.mktemp("product")
    host = HostProcess(azurite.connection_string, "function_app:app", local, product_settings(local))
    host.local_dir = local
    host.start()
    yield host
    host.stop()
