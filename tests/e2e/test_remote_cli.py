"""cpctl (``python -m controlplane_client``, from client/) as a subprocess against the product's own host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.e2e.host_process import KEY, ROOT, HostProcess

FAST_GATE = {"intervalSeconds": 1, "successThreshold": 2, "failureThreshold": 2, "progressDeadlineSeconds": 60}


def cpctl(host: HostProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("GITHUB_", "BUILD_"))},
        "PYTHONPATH": str(ROOT / "client"),
        "CONTROLPLANE_URL": host.base_url,
        "CONTROLPLANE_KEY": KEY,
    }
    command = [sys.executable, "-m", "controlplane_client", *arguments]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def test_deploy_wait_prints_the_timeline_and_exits_0_when_the_release_completes(
    product: HostProcess, tmp_path: Path
) -> None:
    # The example as it is, on an environment of its own and with a quicker health gate.
    release = yaml.safe_load((ROOT / "examples" / "releases" / "v1-rolling.yaml").read_text())
    release["spec"]["environment"]["name"] = "cpctl1"
    release["spec"]["healthGate"].update(FAST_GATE)
    manifest = tmp_path / "release.yaml"
    manifest.write_text(yaml.safe_dump(release))
    done = cpctl(product, "deploy", str(manifest), "--wait", "--interval", "0.5", "--timeout", "150")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    deployment_id = lines[0].split()[1]
    assert lines[0].startswith(f"deployment {deployment_id} Requested (traceId ")
    kinds = [line.split("  ")[1] for line in lines[1:-1]]
    assert kinds[0] == "RuntimeDeploymentRequested" and "RuntimeDeploymentCompleted" in kinds
    changes = [line.split("  ")[2] for line in lines[1:-1] if line.split("  ")[1] == "RuntimeDeploymentStateChanged"]
    assert [change.split(" -> ")[1].split()[0] for change in changes][-2:] == ["Promoting", "Completed"]
    assert len(lines[1:-1]) == len(set(lines[1:-1]))  # each event once
    assert lines[-1].startswith(f"deployment {deployment_id} ended Completed")

    shown = cpctl(product, "get", deployment_id)
    assert shown.returncode == 0 and "state        Completed" in shown.stdout
    finished = cpctl(product, "approve", deployment_id, "--reason", "too late")
    assert finished.returncode == 3 and "409 Deployment finished" in finished.stderr


def test_a_refused_manifest_exits_2_naming_the_field(product: HostProcess) -> None:
    refused = cpctl(product, "deploy", str(ROOT / "examples" / "releases" / "invalid" / "latest-tag.yaml"), "--wait")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("cpctl: 422 ") and "image" in refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""


def test_findings_reads_the_hosts_findings_and_a_wrong_key_exits_3(product: HostProcess) -> None:
    listed = cpctl(product, "findings")
    assert listed.returncode == 0 and listed.stdout.splitlines()[-1] == "0 finding(s)"
    wrong = cpctl(product, "--key", "not-the-key", "findings")
    assert wrong.returncode == 3 and wrong.stderr.startswith("cpctl: 401")
