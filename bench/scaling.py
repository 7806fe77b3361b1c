"""Benchmark: one scaling tick, ``decide`` over 10,000 policies with varied rules, metrics and states.

Run: ``.venv/bin/python bench/scaling.py [--policies 10000] [--repeat 5]``. Inputs are built up front with a
fixed seed, so only the decisions are timed (best of ``--repeat``). Prints a table, then one JSON object of
the figures as the last line.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.domain.manifest.service import ScalingPolicy, ScalingRule
from controlplane.domain.runtime import MetricKind, MetricReading
from controlplane.domain.scaling import Decision, ScalingState, decide

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
GOAL_S = 0.2
RULE_SETS = (
    [ScalingRule(metric="cpu", target=70)],
    [ScalingRule(metric="rps", target=50)],
    [ScalingRule(metric="cpu", target=60), ScalingRule(metric="rps", target=100)],
    [
        ScalingRule(metric="cpu", target=70),
        ScalingRule(metric="queue", target=20),
        ScalingRule(metric="rps", target=80),
    ],
)
Case = tuple[ScalingPolicy, int, list[MetricReading], ScalingState]


def reading(rng: random.Random, metric: str, target: float) -> MetricReading:
    if rng.random() < 0.03:
        return MetricReading(MetricKind(metric), None, "timeout")
    return MetricReading(MetricKind(metric), round(rng.uniform(0, 2.5) * target, 1))


def state(rng: random.Random) -> ScalingState:
    """A state a running loop would have: a few recommendations, sometimes a recent change or a violation."""
    recent = tuple((NOW - timedelta(seconds=30 * n), rng.randint(1, 20)) for n in range(rng.randint(0, 10), 0, -1))
    changed = NOW - timedelta(seconds=rng.randint(0, 600)) if rng.random() < 0.7 else None
    since = NOW - timedelta(seconds=rng.randint(0, 120)) if rng.random() < 0.1 else None
    return ScalingState(recent, changed, since, since is not None and rng.random() < 0.5)


def case(rng: random.Random) -> Case:
    low = rng.randint(1, 3)
    common: dict[str, Any] = {  # the fields both kinds of policy share
        "min_replicas": low,
        "max_replicas": low + rng.randint(0, 20),
        "cooldown_seconds": rng.choice((0, 30, 60, 300)),
        "stabilization_window_seconds": rng.choice((0, 60, 300)),
    }
    if rng.random() < 0.25:
        rules = [ScalingRule(metric="queue", target=10), *rng.choice(([], [ScalingRule(metric="rps", target=50)]))]
        policy = ScalingPolicy(**common, scale_to_zero=True, target="event-driven", activation_threshold=1, rules=rules)
        current = rng.choice((0, 1, rng.randint(1, policy.max_replicas)))
    else:
        rules = rng.choice(RULE_SETS)
        policy = ScalingPolicy(**common, rules=rules)
        current = rng.randint(policy.min_replicas, policy.max_replicas)
    readings = [reading(rng, rule.metric, rule.target) for rule in rules]
    return policy, current, readings, state(rng)


def tick(cases: list[Case]) -> tuple[float, list[Decision]]:
    started = time.perf_counter()
    decisions = [decide(policy, current, readings, memory, NOW) for policy, current, readings, memory in cases]
    return time.perf_counter() - started, decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=10_000, help="policies evaluated per tick")
    parser.add_argument("--repeat", type=int, default=5, help="ticks timed; the best counts")
    arguments = parser.parse_args()
    rng = random.Random(5)
    cases = [case(rng) for _ in range(arguments.policies)]
    timings = []
    for _ in range(arguments.repeat):
        elapsed, decisions = tick(cases)
        timings.append(elapsed)
    best = min(timings)

    outcomes = Counter(
        "held" if decision.reason.startswith("held") else ("up" if decision.replicas > current else "down")
        for decision, (_, current, _, _) in zip(decisions, cases, strict=True)
        if decision.change or decision.reason.startswith("held")
    )
    print(f"Scaling tick, {arguments.policies} policies, best of {arguments.repeat}")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'measure':<28} {'value':>12}")
    print(f"{'tick (s)':<28} {best:>12.4f}")
    print(f"{'per decision (µs)':<28} {best / arguments.policies * 1e6:>12.1f}")
    print(f"{'goal (s)':<28} {GOAL_S:>12.1f}")
    for outcome in ("up", "down", "held"):
        print(f"{'decisions ' + outcome:<28} {outcomes[outcome]:>12}")
    print(f"{'violations reported':<28} {sum(decision.violated for decision in decisions):>12}")
    figures = {"policies": arguments.policies, f"tick_{arguments.policies}_policies_s": round(best, 4)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
