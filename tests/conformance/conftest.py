"""The real Python worker, run once per session on the product's function_app.py."""

from __future__ import annotations

from typing import Any

import pytest

from funchost.tests.conformance.real_worker import index_on_real_worker


@pytest.fixture(scope="session")
def real_worker_index() -> dict[str, dict[str, Any]]:
    """What the real worker loads of function_app.py, by path relative to the project root."""
    return index_on_real_worker(["function_app.py"])
