"""`make demo`'s scenario, run as a user runs it: a process that starts Azurite and the local host; with
``--hold`` the host (and the Runtime Center it serves) stays up after the scenario until Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOLDING = "press Ctrl-C to stop"


def test_the_demo_deploys_releases_and_shows_every_loop_at_work_then_holds_the_runtime_center_until_ctrl_c() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "controlplane", "demo", "--hold"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one pipe: a full stderr pipe nobody reads would block the demo
        text=True,
    )
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:  # until the demo holds (or ends without holding: then the asserts below say why)
            lines.append(line)
            if HOLDING in line:
                break
        out = "".join(lines)
        center = re.search(r"^Runtime Center: (http://127\.0\.0\.1:\d+)/api/center$", out, re.MULTILINE)
        assert center, out
        base = center[1]
        assert f"sign in: {base}/.auth/login/aad?post_login_redirect_uri=/api/center" in out
        token = re.search(r"Authorization: Bearer ([^']+)'", out)
        assert token, out
        # Still up after the scenario: the sign-in form and the API answer, the Reader's token is accepted.
        with urllib.request.urlopen(f"{base}/.auth/login/aad?post_login_redirect_uri=/api/center", timeout=30) as form:
            assert form.status == 200 and 'name="userRoles"' in form.read().decode()
        reader = {"Authorization": f"Bearer {token[1]}"}
        with urllib.request.urlopen(urllib.request.Request(f"{base}/api/me", headers=reader), timeout=30) as me:
            assert me.status == 200 and b"demo-reader" in me.read()
        with urllib.request.urlopen(urllib.request.Request(f"{base}/api/center", headers=reader), timeout=30) as page:
            assert page.status == 200 and page.headers.get_content_type() == "text/html"
        # A prod promotion for whoever signs in as an Approver, requested by the demo's pipeline.
        waiting = re.search(r"approve it at .*/api/center#/deployments/(dep-\w+)$", out, re.MULTILINE)
        assert waiting, out
        url = f"{base}/api/deployments/{waiting[1]}"
        with urllib.request.urlopen(urllib.request.Request(url, headers=reader), timeout=30) as deployment:
            assert json.load(deployment)["environment"] == "prod"
        demo.send_signal(signal.SIGINT)
        rest = demo.communicate(timeout=120)[0]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    out += rest
    assert demo.returncode == 0, out
    assert HOLDING in out and "Stopping the local host." in out
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
