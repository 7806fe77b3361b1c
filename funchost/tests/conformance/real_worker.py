"""The real Python worker, in .venv-worker (built by ``make test``): what it loads of given function app files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[3]
WORKER_PYTHON = PROJECT_ROOT / ".venv-worker" / "bin" / "python"
PROBE = Path(__file__).with_name("worker_probe.py")


def index_on_real_worker(apps: list[str]) -> dict[str, dict[str, Any]]:
    """What the real worker loads of each app file (paths relative to the project root), as ``worker_probe.py``
    prints it; fails the test when .venv-worker is missing."""
    if not WORKER_PYTHON.exists():
        pytest.fail(f"{WORKER_PYTHON} is missing: `make test` builds it (or `make .venv-worker/.installed`)")
    run = subprocess.run(
        [str(WORKER_PYTHON), str(PROBE), *apps], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)
