"""Benchmark: what one drift run costs the durable backend at 10,000 services, by the number of approved findings.

The real drift orchestration runs on the local host's durable engine with full replay at every episode (as Azure
runs Python orchestrators) over in-memory ports and fakes (tests/workflow_world.py), on the clock of
bench/fast_forward.py (a health gate's wait passes at once). One environment runs a release of 10,000 services
(seeded as a completed deployment leaves it); in each case N of them have had their image changed by hand, so the
scan approves N findings (nonprod: auto-remediable) and the run starts N corrective deployments.

Counted from the engine's episode reports (bench/replay_cost.py defines each figure), for the drift instance itself
(its corrective deployments are the deployment orchestrator's cost, shown apart as the tree's episodes):
generations (executions: 1 + continue-as-new), activities, episodes, the longest history of one generation in
events and in KB (the events as JSON, what the backend stores and a replay loads), the events replayed in total
and the round trips on its critical path (sequential activities and sub-orchestrations).

Run: ``.venv/bin/python bench/drift_run.py [N ...]`` (default 100 and 1,000). Prints a table, then one JSON object
of the figures as the last line.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # replay_cost, deployment_cost, next to this script

from deployment_cost import CountedWorld
from replay_cost import CostCounter, Figures

from controlplane.bootstrap import use_ports
from controlplane.domain.findings import FindingStatus
from controlplane.domain.manifest import Release, parse_release
from funchost.durable.episodes import EpisodeReport
from orchestrators.drift import DRIFT_ORCHESTRATOR, INSTANCE_ID
from tests.builders import release_document

SERVICES = 10_000
CASES = (100, 1_000)
TIMEOUT_S = 3600
ENVIRONMENT = "fleet"
PER_RELEASE = 50


@dataclass(frozen=True)
class Measured:
    approved: int
    remediated: int
    generations: int
    own: Figures
    tree: Figures
    history_kb: float
    seconds: float


class SizedWorld(CountedWorld):
    """The counted world that also weighs each generation of the drift instance's history (JSON bytes)."""

    def __init__(self, tmp: Path, counter: CostCounter) -> None:
        self._sizes: dict[int, int] = {}
        self._sizes_lock = threading.Lock()
        super().__init__(tmp, counter)

    def observe(self, report: EpisodeReport) -> None:
        super().observe(report)
        if report.instance.instance_id != INSTANCE_ID:
            return
        size = sum(len(json.dumps(event, default=str)) for event in report.events)
        with self._sizes_lock:
            self._sizes[report.generation] = self._sizes.get(report.generation, 0) + size

    def weighed(self) -> tuple[int, int]:
        """(generations, the largest generation's history in bytes)."""
        with self._sizes_lock:
            return len(self._sizes), max(self._sizes.values())


def fleet() -> list[Release]:
    """Nonprod releases of 50 services each (a release's most), 10,000 services in all, with a 1 s health gate
    (the clock skips its waits)."""
    releases = []
    for first in range(0, SERVICES, PER_RELEASE):
        names = tuple(f"svc-{n:05d}" for n in range(first, first + PER_RELEASE))
        document = release_document(ENVIRONMENT, names)
        document["metadata"]["name"] = f"fleet-{first // PER_RELEASE:03d}"
        document["spec"]["healthGate"] = {"intervalSeconds": 1, "successThreshold": 1, "failureThreshold": 1}
        releases.append(parse_release(document))
    return releases


def run(drifted: int) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        world = SizedWorld(Path(tmp), CostCounter())
        try:
            desired = fleet()
            for release in desired:
                world.seed_completed(release)
            world.desired.set_releases(desired)
            step = SERVICES // drifted
            for n in range(0, SERVICES, step)[:drifted]:
                service = f"svc-{n:05d}"
                revision = world.store.catalog.get_catalog_entry(ENVIRONMENT, service).revision
                world.compute.set_image(ENVIRONMENT, service, revision, f"example.azurecr.io/{service}:6.6.6")
            started = time.perf_counter()
            world.engine.start_new(DRIFT_ORCHESTRATOR, INSTANCE_ID, None)
            world.engine.wait(INSTANCE_ID, timeout=TIMEOUT_S)
            seconds = time.perf_counter() - started
            findings = world.store.findings.list_findings()
            remediated = sum(f.status is FindingStatus.REMEDIATED for f in findings)
            generations, size = world.weighed()
            own = world.counter.figures(INSTANCE_ID, tree_of=False)
            tree = world.counter.figures(INSTANCE_ID)
            return Measured(len(findings), remediated, generations, own, tree, size / 1024, seconds)
        finally:
            world.engine.stop()
            use_ports(None)


def main() -> None:
    cases = tuple(int(arg) for arg in sys.argv[1:]) or CASES
    measured = [run(n) for n in cases]
    print(f"Drift run over {SERVICES:,} services: the drift orchestration on the local host's engine, full replay")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    header = (
        "approved",
        "remediated",
        "generations",
        "activities",
        "episodes",
        "history",
        "history KB",
        "replayed",
        "round trips",
        "tree episodes",
        "wall s",
    )
    print("".join(f"{h:>14}" for h in header))
    figures: dict[str, Any] = {}
    for case in measured:
        own = case.own
        numbers = (case.approved, case.remediated, case.generations, own.activities, own.episodes, own.history)
        row = "".join(f"{n:>14,}" for n in numbers) + f"{case.history_kb:>14,.0f}"
        row += "".join(f"{n:>14,}" for n in (own.replayed, own.round_trips, case.tree.episodes))
        print(row + f"{case.seconds:>14.1f}")
        n = case.approved
        figures.update(
            {
                f"generations_{n}_findings": case.generations,
                f"activities_{n}_findings": own.activities,
                f"episodes_{n}_findings": own.episodes,
                f"history_events_{n}_findings": own.history,
                f"history_kb_{n}_findings": round(case.history_kb),
                f"replayed_events_{n}_findings": own.replayed,
                f"round_trips_{n}_findings": own.round_trips,
                f"remediated_{n}_findings": case.remediated,
            }
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
