"""Crash trials over the demo scenario: SIGKILL the product host at seeded random moments, restart it, and
check what must hold after any crash.

Each trial POSTs the next release of the demo's scenario (``controlplane.cli.demo.SCENARIO``, with shorter
health-gate intervals and canary pauses), kills the host at a random moment of its run (the control loops'
timers are on, so a kill can land in a loop too), restarts it and waits for the deployment to end. After the
trials: every deployment the store holds is terminal with exactly one terminal event and no event id twice;
every workload process that runs is one the compute state records; and after a graceful stop, none runs.

Used by ``tests/e2e/test_crash_trials.py`` (bounded: 3 kills) and by ``bench/reliability.py``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.cli.demo import SCENARIO
from controlplane.cli.demo_loops import LOOP_SETTINGS
from tests.e2e.host_process import HostProcess, product_settings
from tests.e2e.scenario import TERMINAL_EVENTS, TERMINAL_STATES, events_when_ended, shortened, wait_terminal

# A kill lands this many seconds after the POST, uniformly: the shortened scenario's deployments run ~5-20 s.
KILL_WINDOW = (0.2, 10.0)


@dataclass(frozen=True)
class Trial:
    release: str
    deployment_id: str
    killed_after: float  # seconds after the POST
    state: str
    terminal_events: int
    duplicate_event_ids: int


@dataclass
class CrashReport:
    trials: list[Trial] = field(default_factory=list)
    stuck_deployments: list[str] = field(default_factory=list)  # not terminal, or not exactly one terminal event
    duplicate_event_ids: int = 0  # over every deployment's trace
    unrecorded_workloads: list[int] = field(default_factory=list)  # running, but not in the compute state
    workloads_left_after_stop: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """The reliability report's keys for the crash trials."""
        return {
            "crash_trials": len(self.trials),
            "terminal_events_per_trial": [trial.terminal_events for trial in self.trials],
            "duplicate_event_ids": self.duplicate_event_ids,
            "stuck_deployments": len(self.stuck_deployments),
            "orphan_workloads": len(set(self.unrecorded_workloads) | set(self.workloads_left_after_stop)),
        }


def run_crash_trials(storage: str, workdir: Path, seed: int, kills: int = 3) -> CrashReport:
    """``kills`` trials over the scenario's releases (in turn) on one product host over ``storage``."""
    rng = random.Random(seed)
    local = workdir / "local"
    settings = product_settings(local, **LOOP_SETTINGS)
    host = HostProcess(storage, "function_app:app", workdir, settings)
    report = CrashReport()
    host.start()
    try:
        for number in range(kills):
            name = SCENARIO[number % len(SCENARIO)][0]
            report.trials.append(_trial(host, name, rng.uniform(*KILL_WINDOW)))
        _check_every_deployment(host, report)
        report.unrecorded_workloads = sorted(workload_pids(local) - recorded_pids(local))
    finally:
        host.stop()
    report.workloads_left_after_stop = sorted(workload_pids(local))
    return report


def _trial(host: HostProcess, name: str, kill_after: float) -> Trial:
    code, accepted = host.request("POST", "/api/deployments", shortened(name))
    assert code == 202, accepted
    deployment_id = accepted["deploymentId"]
    time.sleep(kill_after)
    host.kill()
    host.start()
    state = wait_terminal(host, deployment_id)
    events = events_when_ended(host, accepted["traceId"])
    counts = Counter(event["id"] for event in events)
    terminal = sum(event["type"] in TERMINAL_EVENTS for event in events)
    return Trial(name, deployment_id, round(kill_after, 2), state, terminal, sum(c - 1 for c in counts.values()))


def _check_every_deployment(host: HostProcess, report: CrashReport) -> None:
    """Every deployment in the store (the monitor's rollbacks too) ends with exactly one terminal event."""
    for deployment in _every_deployment(host):
        state = wait_terminal(host, deployment["id"])
        events = events_when_ended(host, deployment["traceId"])
        counts = Counter(event["id"] for event in events)
        report.duplicate_event_ids += sum(c - 1 for c in counts.values())
        if state not in TERMINAL_STATES or sum(e["type"] in TERMINAL_EVENTS for e in events) != 1:
            report.stuck_deployments.append(deployment["id"])


def _every_deployment(host: HostProcess) -> list[dict[str, Any]]:
    """Every stored deployment, page by page (the listing answers a page at a time)."""
    found: list[dict[str, Any]] = []
    path = "/api/deployments?limit=200"
    while True:
        page = host.request("GET", path)[1]
        found.extend(page["deployments"])
        if page["continuation"] is None:
            return found
        path = f"/api/deployments?limit=200&continuation={page['continuation']}"


def workload_pids(local: Path) -> set[int]:
    """Live processes whose output goes to a workload log under ``local``: the local compute's replicas."""
    root = str((local / "compute").resolve()) + os.sep
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            target = os.readlink(entry / "fd" / "1")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if target.startswith(root) and state not in ("Z", "X"):
            pids.add(int(entry.name))
    return pids


def recorded_pids(local: Path) -> set[int]:
    """The replica processes the local compute's state file records."""
    path = local / "compute" / "state.json"
    if not path.exists():
        return set()
    revisions = json.loads(path.read_text()).get("revisions", [])
    return {process["pid"] for revision in revisions for process in revision.get("processes", [])}
