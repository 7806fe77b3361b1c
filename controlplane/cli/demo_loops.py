"""``make demo``, part two: the control loops at work on the live local host.

After the three releases (``demo.py``), with the desired state in a scratch Git repository:

- drift: an operator changes orders' image out of band and starts an unmanaged process; the plan shows
  both, a drift run repairs the image with a corrective deployment, and the unmanaged process waits as a
  review-required finding until it is approved (and removed);
- scaling: load on the orders router scales orders up; when it stops, orders scales down after the cooldown
  and stabilization window;
- failure monitor: orders 2.1.0 passes its gate, degrades after promotion, and is rolled back.

Each step prints what the control plane decided and the events that explain it, and returns whether it
ended as expected.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controlplane.adapters.local.router import routed_url
from controlplane.cli.timeline import describe
from controlplane.config import APP_ROOT
from funchost.host_process import HostProcess

DESIRED_STATE = APP_ROOT / "examples" / "desired-state"
LOOP_SETTINGS = {
    "CONTROLPLANE_DRIFT_SCHEDULE": "0 0 0 1 1 *",  # the demo asks for drift runs itself (POST /api/drift/runs)
    "CONTROLPLANE_SCALING_SCHEDULE": "*/2 * * * * *",
    "CONTROLPLANE_MONITOR_SCHEDULE": "*/2 * * * * *",
    "CONTROLPLANE_MONITOR_DEGRADED_SECONDS": "6",
}


def desired_state_repository(scratch: Path) -> Path:
    """``examples/desired-state`` committed into a fresh Git repository (what a GitOps repo would be)."""
    repository = scratch / "desired-state"
    shutil.copytree(DESIRED_STATE, repository)
    identity = ["-c", "user.name=demo", "-c", "user.email=demo@example.invalid", "-c", "init.defaultBranch=main"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "desired state of dev"]):
        subprocess.run(["git", *identity, *command], cwd=repository, check=True, capture_output=True)
    return repository


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 120.0, interval: float = 0.5) -> Any:
    """Poll ``probe`` until it returns something truthy; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(interval)


def print_trace(host: HostProcess, traceid: str, indent: str = "   ") -> None:
    for event in host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]:
        print(f"{indent}{event['time'][11:23]}  {event['type']:<31} {describe(event)}")


def orders(host: HostProcess) -> dict[str, Any]:
    views = host.request("GET", "/api/services?environment=dev")[1]["services"]
    return next(view for view in views if view["service"] == "orders")


def _operator(local: Path, *arguments: str) -> None:
    """What an operator with cluster access would run; the demo runs it as they would."""
    command = [sys.executable, "-m", "controlplane", "compute", *arguments, "--local-dir", str(local)]
    print(f"   $ python -m controlplane compute {' '.join(arguments)}")
    subprocess.run(command, cwd=APP_ROOT, check=True, capture_output=True)


def drift_demo(host: HostProcess, local: Path) -> bool:
    print("5. Drift: desired state from a Git repository (examples/desired-state, committed in a scratch repo)")
    plan = host.request("GET", "/api/drift/plan")[1]
    print(f"   GET /api/drift/plan at {plan['desiredRevision'][:12]}: {len(plan['findings'])} finding(s)")
    serving = orders(host)["revision"]
    _operator(local, "set-image", "dev", "orders", serving, "example.azurecr.io/orders:2.0.1-hotfix")
    _operator(local, "run-unmanaged", "dev", "orders", "orders-debug", "example.azurecr.io/orders:0.9.0")
    plan = host.request("GET", "/api/drift/plan")[1]
    for entry in plan["findings"]:
        print(f"   plan: {entry['service']} {entry['kind']:<10} {', '.join(entry['diff'])} -> {entry['action']}")
    code, run = host.request("POST", "/api/drift/runs")
    print(f"   POST /api/drift/runs -> {code} (instance {run.get('instanceId')}; the timer does this every 5 min)")

    def settled() -> list[dict[str, Any]] | None:
        found = host.request("GET", "/api/drift/findings")[1]["findings"]
        mismatch = [f for f in found if f["kind"] == "mismatch" and f["status"] in ("Remediated", "RemediationFailed")]
        review = [f for f in found if f["kind"] == "unmanaged" and f["status"] == "Open"]
        return mismatch + review if mismatch and review else None

    repaired, review = wait_for("the drift run to repair the image", settled)
    print(f"   finding {repaired['id']} (auto-remediable, non-prod) -> {repaired['status']}; its trace:")
    print_trace(host, repaired["traceId"])
    print(f"   finding {review['id']} ({review['remedy']}): {', '.join(review['diff'])} waits for an operator")
    code, _ = host.request("POST", f"/api/drift/findings/{review['id']}/approve?reason=demo%20cleanup")
    print(f"   POST /api/drift/findings/{review['id']}/approve -> {code}")
    wait_for(
        "the unmanaged process to be removed",
        lambda: host.request("GET", f"/api/drift/findings/{review['id']}")[1]["status"] == "Remediated",
    )
    view = orders(host)
    images = sorted({live["image"] for live in view["live"]})
    ok = repaired["status"] == "Remediated" and images == ["example.azurecr.io/orders:2.0.0"] and not view["unmanaged"]
    print(f"   orders serves {images}; unmanaged workloads left: {view['unmanaged'] or 'none'}\n")
    return ok


class Load:
    """HTTP requests to a URL from a few threads until stopped."""

    def __init__(self, url: str, threads: int = 8) -> None:
        self.url = url
        self.sent = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    response.read()
                self.sent += 1
            except OSError:
                time.sleep(0.05)


def scaling_demo(host: HostProcess, local: Path) -> bool:
    print("6. Scaling: orders scales on requests per second (40 per replica, 1..4 replicas)")
    start = orders(host)
    before = (start["scaling"] or {}).get("lastApplied")
    url = routed_url(local / "router.json", "dev", "orders")

    def applied(direction: int, after: dict[str, Any] | None) -> dict[str, Any] | None:
        last = (orders(host)["scaling"] or {}).get("lastApplied")
        moved = last and last != after and (last["to"] - last["from"]) * direction > 0
        return last if moved else None

    started = time.monotonic()
    with Load(url) as load:
        up = wait_for("a scale-up under load", lambda: applied(+1, before), timeout=90)
        rate = load.sent / (time.monotonic() - started)
    print(f"   load on {url}: {rate:.0f} requests/s")
    print(f"   ScalingPolicyApplied {up['from']} -> {up['to']} replicas: {up['reason']}")
    down = wait_for("a scale-down after the load", lambda: applied(-1, up), timeout=120)
    waited = time.monotonic() - started
    print(f"   load stopped; ScalingPolicyApplied {down['from']} -> {down['to']} replicas: {down['reason']}")
    print(f"   (scale-down waits out the cooldown and the stabilization window; {waited:.0f} s in all)\n")
    return up["to"] > up["from"] and down["to"] < down["from"]


def monitor_demo(host: HostProcess, deploy: Callable[[str, str], Any]) -> bool:
    print("7. Failure monitor: orders 2.1.0 passes its gate, then degrades after promotion")
    outcome = deploy("v4-degrades", "Completed")
    seen: list[str] = []

    def restored() -> dict[str, Any] | None:
        monitor = orders(host)["monitor"] or {}  # the watch of the catalog's deployment
        condition = monitor.get("condition")
        if condition and (not seen or seen[-1] != condition):
            seen.append(condition)
            print(f"   {time.strftime('%H:%M:%S')}  orders is {condition}: {monitor.get('reason')}")
        if monitor.get("restoreDeploymentId") is None and condition == "Healthy" and "Restoring" in seen:
            return monitor
        return {"incident": monitor} if condition == "Incident" else None

    final = wait_for("the failure monitor to restore orders", restored, timeout=180)
    if "incident" in final:
        return False
    view = orders(host)
    restore = host.request("GET", f"/api/deployments/{view['deploymentId']}")[1]
    print(f"   rolled back by deployment {view['deploymentId']} (to {view['image']}); the episode:")
    print_trace(host, restore["traceId"])
    print(f"   replay it any time: python -m controlplane replay {restore['traceId']}\n")
    return outcome.state == "Completed" and view["image"] == "example.azurecr.io/orders:2.0.0"
