"""cpctl (``python -m controlplane_client``, from client/) as a subprocess against the product's own host, with
bearer tokens the host's Easy Auth signs (as Entra ID's would be on Azure)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.e2e.host_process import ROOT, HostProcess

FAST_GATE = {"intervalSeconds": 1, "successThreshold": 2, "failureThreshold": 2, "progressDeadlineSeconds": 60}


def cpctl(host: HostProcess, *arguments: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """cpctl as a pipeline runs it: ``token`` (default: a Deployer's, as a pipeline's identity holds) in
    CONTROLPLANE_TOKEN."""
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("GITHUB_", "BUILD_"))},
        "PYTHONPATH": str(ROOT / "client"),
        "CONTROLPLANE_URL": host.base_url,
        "CONTROLPLANE_TOKEN": token or host.bearer_token("e2e-pipeline", ["Deployer"]),
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
    # The pipeline's Deployer may not approve: 403, the problem names the role, exit 4.
    denied = cpctl(product, "approve", deployment_id, "--reason", "ship it")
    assert denied.returncode == 4, denied.stderr
    assert denied.stderr.startswith("cpctl: 403 Forbidden: approve needs the app role Approver; e2e-pipeline has")
    approver = product.bearer_token("e2e-approver", ["Approver"])
    finished = cpctl(product, "approve", deployment_id, "--reason", "too late", token=approver)
    assert finished.returncode == 3 and "409 Deployment finished" in finished.stderr


def test_a_refused_manifest_exits_2_naming_the_field(product: HostProcess) -> None:
    refused = cpctl(product, "deploy", str(ROOT / "examples" / "releases" / "invalid" / "latest-tag.yaml"), "--wait")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("cpctl: 422 ") and "image" in refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""


def test_findings_with_a_local_token_of_the_controlplane_cli_and_a_token_not_signed_by_the_host_exits_4(
    product: HostProcess,
) -> None:
    command = [sys.executable, "-m", "controlplane", "token", "--name", "e2e-reader", "--roles", "Reader"]
    env = {**os.environ, **product.settings}  # the host's local folder, where its Easy Auth secret is
    printed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    listed = cpctl(product, "findings", token=printed.stdout.strip())
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[-1] == "0 finding(s)"
    refused = cpctl(product, "findings", token="not-a-token-of-this-host")
    assert refused.returncode == 4 and refused.stderr.startswith("cpctl: 401 Unauthorized")
    assert "Traceback" not in refused.stderr
