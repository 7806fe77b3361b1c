"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.testing.memory_documents import memory_stores
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


@pytest.fixture
def store() -> Iterator[Stores]:
    """In-memory stores wired as the app's ports (for triggers called as functions); unwired afterwards."""
    store = memory_stores()
    use_ports(fake_ports(store=store))
    yield store
    use_ports(None)
