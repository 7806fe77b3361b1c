"""A local host process per test, on the session's Azurite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.azurite import Azurite
from tests.e2e.host_process import HostProcess


@pytest.fixture
def activity_log(tmp_path: Path) -> Path:
    return tmp_path / "activities.log"


@pytest.fixture
def host(azurite: Azurite, tmp_path: Path, activity_log: Path) -> Iterator[HostProcess]:
    process = HostProcess(
        azurite.connection_string, "tests.durable_app:app", tmp_path, {"DURABLE_TEST_LOG": str(activity_log)}
    )
    process.start()
    yield process
    process.stop()
