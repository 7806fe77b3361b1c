"""The control loops through the local host: timers, the drift API, the failure monitor, the replay CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from funchost.azurite import Azurite
from funchost.tests.e2e.observe import wait_until
from tests.builders import release_document
from tests.e2e.host_process import ROOT, HostProcess, product_settings

GATE = {"path": "/health", "intervalSeconds": 1, "successThreshold": 2, "failureThreshold": 2}
ORDERS_1 = "example.azurecr.io/orders:1.0.0"
TIMEOUT, POLL = 90, 0.2


def release(tag: str, environment: str, **configuration: str) -> dict[str, Any]:
    document = release_document(environment, ("orders",), tag)
    document["spec"]["healthGate"] = dict(GATE)
    document["spec"]["services"][0].update(replicas=1, configuration={"LOG_LEVEL": "info", **configuration})
    return document


@pytest.fixture
def loops(azurite: Azurite, tmp_path: Path) -> Iterator[HostProcess]:
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "orders.yaml").write_text(yaml.safe_dump(release("1.0.0", "loops")))
    settings = product_settings(
        tmp_path,
        CONTROLPLANE_DESIRED_STATE=str(desired),
        CONTROLPLANE_DRIFT_SCHEDULE="*/3 * * * * *",
        CONTROLPLANE_MONITOR_SCHEDULE="*/1 * * * * *",
        CONTROLPLANE_MONITOR_DEGRADED_SECONDS="3",
    )
    host = HostProcess(azurite.connection_string, "function_app:app", tmp_path, settings)
    host.local_dir = tmp_path
    host.start()
    yield host
    host.stop()


def completed(host: HostProcess, document: dict[str, Any]) -> dict[str, Any]:
    code, accepted = host.request("POST", "/api/deployments", document)
    assert code == 202, accepted
    path = f"/api/deployments/{accepted['deploymentId']}"

    def ended() -> dict[str, Any] | None:
        body = host.request("GET", path)[1]
        return body if body["state"] in ("Completed", "RolledBack", "Failed") else None

    done = wait_until(ended, TIMEOUT, "the deployment", POLL)
    assert done["state"] == "Completed", done["transitions"]
    return done


def orders(host: HostProcess, environment: str) -> dict[str, Any]:
    views = host.request("GET", f"/api/services?environment={environment}")[1]["services"]
    return next(view for view in views if view["service"] == "orders")


def test_the_drift_timer_repairs_an_out_of_band_image_and_the_api_explains_it(loops: HostProcess) -> None:
    assert loops.request("GET", "/api/drift/findings?status=Bogus")[0] == 400
    assert loops.request("GET", "/api/drift/findings/drift-nope")[0] == 404
    assert loops.request("POST", "/api/drift/findings/drift-nope/approve", {"reason": "r"})[0] == 404
    done = completed(loops, release("1.0.0", "loops"))
    serving = done["services"]["orders"]["revision"]

    edit = ["compute", "set-image", "loops", "orders", serving, "example.azurecr.io/orders:1.0.1-rogue"]
    subprocess.run(
        [sys.executable, "-m", "controlplane", *edit, "--local-dir", str(loops.local_dir)], cwd=ROOT, check=True
    )

    def finding(status: str) -> dict[str, Any] | None:
        found = loops.request("GET", f"/api/drift/findings?status={status}")[1]["findings"]
        return found[0] if found else None

    remediating = wait_until(
        lambda: finding("Remediating"), TIMEOUT, "the drift timer to start a corrective deployment", POLL
    )
    assert remediating["diff"]["/image"]["actual"] == "example.azurecr.io/orders:1.0.1-rogue"
    assert loops.request("POST", "/api/drift/runs")[0] == 409  # the run that is remediating is in flight
    repaired = wait_until(lambda: finding("Remediated"), TIMEOUT, "the finding to be remediated", POLL)

    assert repaired["id"] == remediating["id"]
    assert [live["image"] for live in orders(loops, "loops")["live"]] == [ORDERS_1]
    assert loops.request("POST", f"/api/drift/findings/{repaired['id']}/approve", {"reason": "r"})[0] == 409
    trace = loops.request("GET", f"/api/events?traceId={repaired['traceId']}")[1]["events"]
    assert trace[0]["type"] == "RuntimeDriftDetected" and trace[-1]["type"] == "RuntimeDriftRemediated"
    assert loops.request("GET", "/api/drift/plan")[1]["findings"] == []


def test_the_failure_monitor_rolls_back_a_degraded_revision_and_replay_tells_the_story(loops: HostProcess) -> None:
    first = completed(loops, release("1.0.0", "monitored"))
    completed(loops, release("1.1.0", "monitored", SAMPLE_DEGRADE_AFTER_SECONDS="6"))

    def restored() -> dict[str, Any] | None:
        view = orders(loops, "monitored")
        return view if view["image"] == ORDERS_1 and (view["monitor"] or {}).get("condition") == "Healthy" else None

    view = wait_until(restored, TIMEOUT, "the monitor to restore 1.0.0", POLL)
    restore = loops.request("GET", f"/api/deployments/{view['deploymentId']}")[1]
    assert restore["release"] == first["release"]
    replay = subprocess.run(
        [sys.executable, "-m", "controlplane", "replay", restore["traceId"]],
        cwd=ROOT,
        env={**os.environ, **loops.settings},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr
    story = replay.stdout
    for step in ("Healthy -> Degraded", "Degraded -> Rollback", "Rollback -> Restoring", "Restoring -> Healthy"):
        assert step in story, story
    assert story.index("Degraded -> Rollback") < story.index("RuntimeDeploymentCompleted")
