"""`make demo`'s scenario, run as a user runs it: a process that starts Azurite and the local host."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_deploys_three_releases_to_their_expected_ends() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controlplane", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"v1-rolling\s+dep-\w+\s+Completed\s+Completed", out)
    assert re.search(r"v2-canary\s+dep-\w+\s+Completed\s+Completed", out)
    assert re.search(r"v3-unhealthy\s+dep-\w+\s+RolledBack\s+RolledBack", out)
    assert "RollingOut -> RollingBack  (health gate failed for orders" in out
    assert "all on v2's revision, as expected" in out
    assert "ACCEPTED" not in out
    assert "Demo passed" in out
