"""`make demo`'s scenario, run as a user runs it: a process that starts Azurite and the local host."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_deploys_releases_and_shows_every_loop_at_work() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controlplane", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"v1-rolling\s+dep-\w+\s+Completed\s+Completed", out)
    assert re.search(r"v2-canary\s+dep-\w+\s+Completed\s+Completed", out)
    assert re.search(r"v3-unhealthy\s+dep-\w+\s+RolledBack\s+RolledBack", out)
    assert "RollingOut -> RollingBack  (health gate failed for orders" in out
    assert "all on v2's revision, as expected" in out
    assert re.search(r"v4-degrades\s+dep-\w+\s+Completed\s+Completed", out)
    assert "ACCEPTED" not in out
    assert "RuntimeDriftRemediated" in out and "review-required" in out
    assert re.search(r"ScalingPolicyApplied (\d) -> (\d) replicas", out)
    assert "Degraded -> Rollback" in out and "Restoring -> Healthy" in out
    for step in ("drift repaired", "scaled up under load and back down", "rolled back by the monitor"):
        assert re.search(rf"^ok\s+.*{step}", out, re.MULTILINE), out
    assert "Demo passed" in out
