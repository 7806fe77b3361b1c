"""Benchmark: what a deployment costs the durable backend, the measuring stick of issue 15's linear deployments.

The real deployment orchestrator runs on the local host's durable engine with full replay at every episode (as
Azure runs Python orchestrators) over in-memory ports and fakes (tests/workflow_world.py: no processes, health
answered from a script, metric analysis from a script). bench/replay_cost.py counts, per deployment and from the
engine's episode reports: episodes, activities, timers, the final history, the events replayed in total and
the round trips on the critical path (its docstring defines each).

Cases, each on an environment of its own, one deployment at a time:
- the examples (examples/releases) one after the other, as ``make demo`` deploys them: v1-rolling (a first
  release of 2 services), v2-canary (over v1), v3-unhealthy (over v2; its new revision passes two probes, then
  answers Unhealthy, as the sample does 3 s after it starts, so the canary's first gate fails and it rolls back);
- a 10-service and a 50-service rolling update (over a seeded completed release), with v1's strategy and health
  gate;
- a canary with metric analysis (v2's steps plus a request-success-rate analysis, 3 measurements per gate).

Every wait is shortened (health gate and analysis intervals, canary pauses: 1 s), and the engine's clock skips a
wait while nothing but timers is outstanding (bench/fast_forward.py): timers fire at once, and what depends on
time (a progress deadline, an analysis's measurement schedule) decides as it would in real time. A gate probes
inside its activity, and a service's segment waits for a measurement inside its activity: those waits take their
1 s in real time (the figures do not depend on it).

Run: ``.venv/bin/python bench/deployment_cost.py`` (about two minutes, most of it the 50-service release's gates
and the activity concurrency of host.json, 10). Prints a table, then one JSON object as the last line.
"""

from __future__ import annotations

import copy
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # replay_cost, next to this script

from fast_forward import FastForward
from replay_cost import CostCounter, Figures

from controlplane.bootstrap import ports, use_ports
from controlplane.domain.health import HealthReport, HealthStatus
from controlplane.domain.manifest import Release, parse_release
from controlplane.domain.rollout.target import revision_name
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.testing.analysis import ScriptedAnalysis
from controlplane.testing.fakes import ScriptedHealthProbe
from funchost.durable.engine import DurableEngine
from funchost.durable.episodes import EpisodeReport
from funchost.durable.store import DurableStore
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from tests import product_app
from tests.workflow_world import World

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "releases"
SUCCESS_RATE = "request-success-rate"
TIMEOUT_S = 600  # of one deployment: the 50-service release takes about a minute and a half


@dataclass(frozen=True)
class Measured:
    key: str  # the suffix of the case's JSON keys
    title: str
    state: str
    figures: Figures
    seconds: float


class TurningHealth(ScriptedHealthProbe):
    """Scripted health where a revision of ``turns`` answers Healthy for that many probes, then Unhealthy: v3's
    sample turns unhealthy 3 s after it starts (SAMPLE_HEALTH_MODE), so its gate, probing every 2 s, sees two
    passing probes first."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: dict[str, int] = {}

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        if revision in self.turns and self.probes.count(revision) >= self.turns[revision]:
            self.statuses = {**self.statuses, revision: HealthStatus.UNHEALTHY}  # a new dict: others read it now
        return super().probe(environment, service, revision, path)


class CountedWorld(World):
    """The workflow world on an engine that reports every episode to ``counter``, on a clock that skips idle
    waits (bench/fast_forward.py), with health from ``TurningHealth``."""

    def __init__(self, tmp: Path, counter: CostCounter) -> None:
        self.counter = counter
        self.clock = FastForward()
        super().__init__(tmp)
        self.health = self.turning = TurningHealth()
        use_ports(replace(ports(), health=self.turning))

    def start_engine(self) -> DurableEngine:
        store = DurableStore(self.history, "Cost")
        engine = DurableEngine(product_app.index(), store, clock=self.clock.now, observer=self.observe)
        engine.start()
        return engine

    def observe(self, report: EpisodeReport) -> None:
        self.clock.observe(report)
        self.counter(report)


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return document


def shortened(document: dict[str, Any]) -> Release:
    """The release with every wait 1 s: health gate and analysis intervals, canary pauses."""
    spec = copy.deepcopy(document)["spec"]
    spec.setdefault("healthGate", {})["intervalSeconds"] = 1
    for step in spec["strategy"].get("steps", []):
        if "pause" in step:
            step["pause"] = {"durationSeconds": 1}
    if "analysis" in spec:
        spec["analysis"]["intervalSeconds"] = 1
    return parse_release({**document, "spec": spec})


def rolling(services: int, tag: str) -> dict[str, Any]:
    """v1-rolling's strategy and health gate over ``services`` copies of its first service, in an environment
    of their own, with a progress deadline of a day: one deadline covers every service's gates, and the time the
    50-service release spends replaying counts towards it."""
    document = example("v1-rolling")
    spec = document["spec"]
    template = spec["services"][0]
    spec["healthGate"]["progressDeadlineSeconds"] = 86400
    spec["environment"]["name"] = f"rolling-{services}"
    spec["services"] = [
        {**template, "name": f"svc-{n:02d}", "image": f"example.azurecr.io/svc-{n:02d}:{tag}"}
        for n in range(1, services + 1)
    ]
    document["metadata"]["name"] = f"rolling-{services}-{tag.replace('.', '-')}"
    return document


def analysed(tag: str) -> dict[str, Any]:
    """v2-canary's steps for ``checkout`` with a request-success-rate analysis (3 measurements per gate)."""
    document = example("v2-canary")
    spec = document["spec"]
    spec["environment"]["name"] = "analysis"
    spec["services"] = [{**spec["services"][0], "name": "checkout", "image": f"example.azurecr.io/checkout:{tag}"}]
    spec["analysis"] = {
        "provider": {"type": "router"},
        "metrics": [{"name": SUCCESS_RATE, "builtin": "requestSuccessRate", "threshold": {"min": 0.95}, "count": 3}],
    }
    document["metadata"]["name"] = f"checkout-{tag.replace('.', '-')}"
    return document


def deploy(world: CountedWorld, key: str, title: str, release: Release, *, turns_after: int | None = None) -> Measured:
    """Deploy ``release`` and wait for its end; ``turns_after``: its new revisions turn Unhealthy after that many
    probes."""
    started = time.perf_counter()
    deployment = world.accept(release).deployment
    if turns_after is not None:
        world.turning.turns.update({revision_name(s.name, deployment.id): turns_after for s in release.spec.services})
    world.engine.start_new(DEPLOYMENT_ORCHESTRATOR, deployment.id, json.dumps(DeploymentStart.of(deployment).to_dict()))
    world.engine.wait(deployment.id, timeout=TIMEOUT_S)
    state = world.store.deployments.get_deployment(deployment.id).state.value
    return Measured(key, title, state, world.counter.figures(deployment.id), time.perf_counter() - started)


def examples(world: CountedWorld) -> list[Measured]:
    return [
        deploy(world, "v1_rolling", "v1-rolling (2 services, first release)", shortened(example("v1-rolling"))),
        deploy(world, "v2_canary", "v2-canary", shortened(example("v2-canary"))),
        deploy(world, "v3_unhealthy", "v3-unhealthy (rolls back)", shortened(example("v3-unhealthy")), turns_after=2),
    ]


def rolling_update(services: int) -> Callable[[CountedWorld], list[Measured]]:
    def run(world: CountedWorld) -> list[Measured]:
        world.seed_completed(shortened(rolling(services, "1.0.0")))
        title = f"{services}-service rolling update"
        return [deploy(world, f"{services}_services", title, shortened(rolling(services, "2.0.0")))]

    return run


def canary_with_analysis(world: CountedWorld) -> list[Measured]:
    world.seed_completed(shortened(analysed("1.0.0")))
    analysis = ports().analysis
    assert isinstance(analysis, ScriptedAnalysis), analysis
    analysis.script("checkout", SUCCESS_RATE, 0.99)
    return [deploy(world, "canary_analysis", "canary with metric analysis", shortened(analysed("2.0.0")))]


EXPECTED = {"v3_unhealthy": "RolledBack"}  # every other case completes


def measure() -> list[Measured]:
    """Every case, one deployment at a time: the clock skips a wait only while everything waits."""
    groups = [examples, canary_with_analysis, rolling_update(10), rolling_update(50)]
    with tempfile.TemporaryDirectory() as tmp:
        world = CountedWorld(Path(tmp), CostCounter())
        try:
            measured = [case for group in groups for case in group(world)]
        finally:
            world.engine.stop()
            use_ports(None)
    for case in measured:
        expected = EXPECTED.get(case.key, "Completed")
        assert case.state == expected, f"{case.title} ended {case.state}, not {expected}"
    return measured


def report(measured: list[Measured]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for case in measured:
        for name, value in asdict(case.figures).items():
            figures[f"{'replayed_events' if name == 'replayed' else name}_{case.key}"] = value
    ten = next(case.figures for case in measured if case.key == "10_services")
    fifty = next(case.figures for case in measured if case.key == "50_services")
    figures["replayed_ratio_50_to_10_services"] = round(fifty.replayed / ten.replayed, 2)
    return figures


def print_table(measured: list[Measured], figures: dict[str, Any]) -> None:
    print("Deployment cost: the deployment orchestrator on the local host's engine, full replay at every episode")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    header = ("case", "ends", "episodes", "activities", "timers", "history", "replayed", "round trips", "wall s")
    print(f"{header[0]:<40} {header[1]:<11}" + "".join(f"{h:>12}" for h in header[2:]))
    for case in measured:
        f = case.figures
        numbers = (f.episodes, f.activities, f.timers, f.history, f.replayed, f.round_trips)
        row = "".join(f"{n:>12,}" for n in numbers)
        print(f"{case.title:<40} {case.state:<11}{row}{case.seconds:>12.1f}")
    ten_replayed, ten_trips = figures["replayed_events_10_services"], figures["round_trips_10_services"]
    ratio = figures["replayed_ratio_50_to_10_services"]
    print("issue 15 goals (part 1):")
    print(f"  10 services: replayed {ten_replayed:,} (goal <= 10,000), round trips {ten_trips} (goal <= 20)")
    print(f"  50 services replay {ratio}x what 10 do (goal <= 6x)")


def main() -> None:
    measured = measure()
    figures = report(measured)
    print_table(measured, figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
