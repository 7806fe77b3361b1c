"""`make demo`'s scenario, run as a user runs it: a separate process that starts and stops Azurite."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_walks_three_releases_to_their_expected_ends() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controlplane", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"v1-rolling\.yaml\s+dep-demo-1\s+Completed\s+Completed", out)
    assert re.search(r"v2-canary\.yaml\s+dep-demo-2\s+Completed\s+Completed", out)
    assert re.search(r"v3-unhealthy\.yaml\s+dep-demo-3\s+RolledBack\s+RolledBack", out)
    assert "HealthGating -> RollingBack  gate failed: Unhealthy (HTTP 503)" in out
    assert "refused: RuntimeDeployment: illegal transition Completed -> RollingOut" in out
    assert "ACCEPTED" not in out
    assert out.count("every event carries traceid") == 3
    assert "every event carries traceid" in out and ": False" not in out
