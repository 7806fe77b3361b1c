"""The real Python worker, run once per session in .venv-worker (built by ``make test``) on every app tested here."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER_PYTHON = PROJECT_ROOT / ".venv-worker" / "bin" / "python"
PROBE = Path(__file__).with_name("worker_probe.py")
BAD_APPS = PROJECT_ROOT / "tests" / "fixtures" / "bad_apps"


@pytest.fixture(scope="session")
def real_worker_index() -> dict[str, dict[str, Any]]:
    """What the real worker loads of function_app.py and of each bad app, by path relative to the project root."""
    if not WORKER_PYTHON.exists():
        pytest.fail(f"{WORKER_PYTHON} is missing: `make test` builds it (or `make .venv-worker/.installed`)")
    apps = ["function_app.py", *sorted(str(path.relative_to(PROJECT_ROOT)) for path in BAD_APPS.glob("[a-z]*.py"))]
    run = subprocess.run(
        [str(WORKER_PYTHON), str(PROBE), *apps], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)
