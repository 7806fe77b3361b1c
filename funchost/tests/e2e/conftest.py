"""A local host process per test, on the session's Azurite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.azurite import Azurite
from funchost.tests.e2e.host_process import DURABLE_APP, HostProcess


@pytest.fixture
def activity_log(tmp_path: Path) -> Path:
    return tmp_path / "activities.log"


@pytest.fixture
def host(azurite: Azurite, tmp_path: Path, activity_log: Path) -> Iterator[HostProcess]:
    process = HostProcess(azurite.connection_string, DURABLE_APP, tmp_path, {"DURABLE_TEST_LOG": str(activity_log)})
    process.start()
    yield process
    process.stop()
