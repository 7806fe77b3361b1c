"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.bootstrap import use_ports
from tests.principals import enable_easy_auth
from tests.workflow_world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = World(tmp_path)
    yield world
    world.engine.stop()
    use_ports(None)


@pytest.fixture(autouse=True)
def easy_auth_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Triggers called as functions trust the principal header, as behind App Service Authentication."""
    enable_easy_auth(monkeypatch)
