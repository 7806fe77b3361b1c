"""Fixtures of the host's tests. Azurite is started once per test session, only if a test asks for it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.azurite import Azurite

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where node_modules holds Azurite

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """An in-memory Azurite Table and Blob service on free loopback ports, stopped after the session."""
    with Azurite(PROJECT_ROOT) as emulator:
        yield emulator


@pytest.fixture
def table_prefix() -> str:
    """A table-name prefix of this test alone, so tests never see each other's rows."""
    return f"t{next(_prefixes)}x"
