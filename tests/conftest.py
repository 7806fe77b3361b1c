"""Shared fixtures. Azurite is started once per test session, only if a test asks for it."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.azurite import Azurite

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """An in-memory Azurite Table service on a free loopback port, stopped after the session."""
    with Azurite(PROJECT_ROOT) as emulator:
        yield emulator


@pytest.fixture
def table_prefix() -> str:
    """A table-name prefix of this test alone, so tests never see each other's rows."""
    return f"t{next(_prefixes)}x"


_RUN_STARTED = pytest.StashKey[float]()  # the run's start (wall clock), to tell this run's screenshots


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_RUN_STARTED] = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Where the browser tests (tests/browser) left their screenshots, when this run took any: one folder per
    test under artifacts/screenshots/, which CI keeps."""
    folder = PROJECT_ROOT / "artifacts" / "screenshots"
    started = config.stash.get(_RUN_STARTED, None)
    if started is None or not folder.is_dir():
        return
    taken = [path for path in folder.glob("*/*.png") if path.stat().st_mtime >= started]
    if taken:
        terminalreporter.write_line(f"browser screenshots: {len(taken)} in {folder}")
