"""The real Python worker, run once per session on every bad app tested here."""

from __future__ import annotations

from typing import Any

import pytest

from funchost.tests.conformance.real_worker import PROJECT_ROOT, index_on_real_worker

BAD_APPS = PROJECT_ROOT / "funchost" / "tests" / "apps" / "bad_apps"


@pytest.fixture(scope="session")
def real_worker_index() -> dict[str, dict[str, Any]]:
    """What the real worker loads of each bad app, by path relative to the project root."""
    return index_on_real_worker(sorted(str(path.relative_to(PROJECT_ROOT)) for path in BAD_APPS.glob("[a-z]*.py")))
