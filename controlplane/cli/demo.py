"""``make demo``: releases through the local host onto real local processes, then the control loops.

Starts Azurite and the local host (``python -m controlplane up``), then as a pipeline would: POSTs
``v1-rolling`` (expected Completed), ``v2-canary`` (Completed) and ``v3-unhealthy`` (RolledBack, with all
traffic back on v2), printing a live timeline of each deployment's events with its one traceId. Then
``demo_analysis`` deploys ``v5-failing-canary`` (Healthy, 20 % of requests failing) under load: metric
analysis rolls it back and ``explain`` prints why. ``demo_loops`` shows drift repaired and reviewed, scaling
up and down under load, and the failure monitor rolling back ``v4-degrades``. Everything it started is
stopped at the end. Exit 0 only if every step ended as expected.

The Runtime Center (``<host>/api/center``) is usable while the demo runs: its URL and how to sign in (the
host's Easy Auth form, or a bearer token) are printed first. ``--hold`` keeps the host up after the scenario
until Ctrl-C (or SIGTERM), with the exit status the scenario earned.
"""

from __future__ import annotations

import signal
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from controlplane.adapters.local.router import routed_url
from controlplane.cli.demo_analysis import analysis_demo
from controlplane.cli.demo_loops import (
    LOOP_SETTINGS,
    desired_state_repository,
    drift_demo,
    monitor_demo,
    scaling_demo,
)
from controlplane.cli.project import UP_COMMAND
from controlplane.cli.timeline import describe
from controlplane.config import APP_ROOT
from controlplane.domain.access import Role
from controlplane.domain.manifest import load_release
from controlplane.errors import InvalidManifest
from funchost.azurite import Azurite
from funchost.host_process import HostProcess

RELEASES = APP_ROOT / "examples" / "releases"
SCENARIO = [("v1-rolling", "Completed"), ("v2-canary", "Completed"), ("v3-unhealthy", "RolledBack")]
TERMINAL = {"Completed", "RolledBack", "Failed"}


@dataclass(frozen=True)
class Outcome:
    release: str
    expected: str
    deployment_id: str
    state: str
    seconds: float
    events: int
    traceid: str


def run_demo(hold: bool = False) -> int:
    print("Runtime control plane demo: releases and control loops through the local host\n")
    valid = _validate_examples()
    with Azurite(APP_ROOT) as azurite, tempfile.TemporaryDirectory(prefix="controlplane-demo-") as scratch:
        local = Path(scratch)
        settings = {
            "CONTROLPLANE_LOCAL_DIR": scratch,
            "CONTROLPLANE_DESIRED_STATE": str(desired_state_repository(local)),
            **LOOP_SETTINGS,
        }
        storage, app = azurite.connection_string, "function_app:app"
        host = HostProcess(UP_COMMAND, storage, app, local, settings, root=APP_ROOT, state_dir=local)
        print(f"Azurite on 127.0.0.1:{azurite.port}; starting the local host ...")
        host.start()
        # The demo's requests are one operator's, holding every app role (as a pipeline plus an on-call engineer).
        host.caller_token = host.bearer_token("demo-operator", [role.value for role in Role])
        print(f"Local host on {host.base_url}; workloads are real processes (examples/workload/sample_service.py)")
        _announce_center(host, hold)
        try:
            outcomes = [_deploy(host, name, expected) for name, expected in SCENARIO]
            traffic_ok = _traffic_back_on(host, local, outcomes[1])

            def deploy_and_record(name: str, expected: str) -> Outcome:
                """The monitor demo's deployments join the summary with the scenario's."""
                outcome = _deploy(host, name, expected)
                outcomes.append(outcome)
                return outcome

            loops = {
                "Healthy canary failing 20 % of requests rolled back by analysis": analysis_demo(
                    host, local, storage, deploy_and_record
                ),
                "drift repaired, unmanaged process reviewed": drift_demo(host, local),
                "scaled up under load and back down": scaling_demo(host, local),
                "degraded revision rolled back by the monitor": monitor_demo(host, deploy_and_record),
            }
            _summary(outcomes)
            for what, passed in loops.items():
                print(f"{'ok  ' if passed else 'FAIL'} {what}")
            ok = valid and traffic_ok and all(o.state == o.expected for o in outcomes) and all(loops.values())
            print("\nDemo " + ("passed: every release ended as expected." if ok else "FAILED: see above."))
            if hold:
                _hold(host, _promotion_to_approve(host))
        finally:
            host.stop()
    return 0 if ok else 1


def _announce_center(host: HostProcess, hold: bool) -> None:
    """Where the Runtime Center is and how to sign in to it; the host serves it for as long as the demo runs."""
    center = f"{host.base_url}/api/center"
    reader = host.bearer_token("demo-reader", [Role.READER.value])
    print(f"\nRuntime Center: {center}")
    print(f"   sign in: {host.base_url}/.auth/login/aad?post_login_redirect_uri=/api/center")
    print("      any name; roles comma-separated from Reader, Deployer, Approver, Operator (buttons follow them)")
    print(f"   API with a Reader's bearer token: curl -H 'Authorization: Bearer {reader}' {host.base_url}/api/me")
    print(
        "   the host stays up after the demo until Ctrl-C (--hold)\n"
        if hold
        else "   up while the demo runs; `make demo HOLD=1` (or --hold) keeps it up afterwards\n"
    )


def _promotion_to_approve(host: HostProcess) -> str:
    """Something to do in the Runtime Center once the scenario is over: v1-rolling requested for prod by a
    pipeline (a Deployer), which waits for an Approver; four-eyes lets anyone but the pipeline approve it."""
    release = yaml.safe_load((RELEASES / "v1-rolling.yaml").read_text())
    release["spec"]["environment"].update(name="prod", tier="prod")
    pipeline = host.bearer_token("demo-pipeline", [Role.DEPLOYER.value])
    code, accepted = host.request("POST", "/api/deployments", release, token=pipeline)
    if code != 202:
        raise RuntimeError(f"v1-rolling to prod: POST /api/deployments answered {code}: {accepted}")
    return str(accepted["deploymentId"])


def _hold(host: HostProcess, waiting: str) -> None:
    """Serve until Ctrl-C or SIGTERM (a terminal closing, a container stopping): the page stays usable."""
    center = f"{host.base_url}/api/center"
    print(f"\n{waiting}: v1-rolling to prod, requested by demo-pipeline, will wait for an Approver's approval;")
    print(f"   sign in with the Approver role and approve it at {center}#/deployments/{waiting}")
    print(f"The local host stays up: Runtime Center at {center}; press Ctrl-C to stop.", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM ends the hold as Ctrl-C does
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        print("\nStopping the local host.")


def _validate_examples() -> bool:
    print("1. The example releases (python -m controlplane validate FILE)")
    ok = True
    for path in sorted(RELEASES.glob("invalid/*.*")):
        if path.suffix not in {".yaml", ".json"}:
            continue
        try:
            load_release(path.read_bytes(), source=path.name)
        except InvalidManifest as error:
            print(f"   refused invalid/{path.name}: {error.errors[0]}")
        else:
            print(f"   ACCEPTED invalid/{path.name} (should have been refused)")
            ok = False
    print()
    return ok


def _deploy(host: HostProcess, name: str, expected: str) -> Outcome:
    release = yaml.safe_load((RELEASES / f"{name}.yaml").read_text())
    started = time.monotonic()
    code, accepted = host.request("POST", "/api/deployments", release)
    if code != 202:
        raise RuntimeError(f"{name}: POST /api/deployments answered {code}: {accepted}")
    deployment_id, traceid = accepted["deploymentId"], accepted["traceId"]
    print(f"2. {name}.yaml -> deployment {deployment_id}, traceId {traceid} (expect {expected})")
    seen = 0
    state = accepted["state"]
    while True:
        events = host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]
        for event in events[seen:]:
            print(f"   +{time.monotonic() - started:5.1f}s  {event['type']:<31} {describe(event)}")
        seen = len(events)
        state = host.request("GET", f"/api/deployments/{deployment_id}")[1]["state"]
        if state in TERMINAL and any(e["type"] in _ENDINGS for e in events):
            break
        time.sleep(0.3)
    print(f"   {deployment_id} {state} after {time.monotonic() - started:.1f}s\n")
    return Outcome(name, expected, deployment_id, state, time.monotonic() - started, seen, traceid)


_ENDINGS = {"RuntimeDeploymentCompleted", "RuntimeDeploymentRolledBack", "RuntimeDeploymentFailed"}


def _traffic_back_on(host: HostProcess, local: Path, stable: Outcome) -> bool:
    """After v3 rolled back, every request to the orders router is served by v2's revision."""
    expected = host.request("GET", f"/api/deployments/{stable.deployment_id}")[1]["services"]["orders"]["revision"]
    url = routed_url(local / "router.json", "dev", "orders")
    served = set()
    for _ in range(10):
        with urllib.request.urlopen(url, timeout=10) as response:
            served.add(response.headers["X-Revision"])
    ok = served == {expected}
    print(
        f"3. 10 requests to the orders router ({url}) were served by {sorted(served)}: "
        + ("all on v2's revision, as expected" if ok else f"EXPECTED only {expected}")
    )
    return ok


def _summary(outcomes: list[Outcome]) -> None:
    print(f"\n{'release':<14} {'deployment':<18} {'state':<11} {'expected':<11} {'seconds':>7} {'events':>6}  traceId")
    for o in outcomes:
        states = f"{o.state:<11} {o.expected:<11}"
        print(f"{o.release:<14} {o.deployment_id:<18} {states} {o.seconds:>7.1f} {o.events:>6}  {o.traceid}")
