"""Benchmark: drift classification of 1,000, 10,000 and 100,000 workloads, against DeepDiff on the same data.

Run: ``.venv/bin/python bench/drift.py``. Each inventory has 1% drifted services (image, replicas or
config), some unmanaged and missing ones, scaling policies and ignore rules. ``classify`` is timed best of
3; DeepDiff compares the same desired and live services as dicts keyed by environment/service, and runs
only for the sizes it finishes in about 20 s (estimated from the size before). Prints a table, then one
JSON object of the figures as the last line.
"""

from __future__ import annotations

import functools
import gc
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepdiff import DeepDiff
from deepdiff import __version__ as deepdiff_version

from controlplane.domain.drift import DesiredService, classify
from controlplane.domain.runtime import LiveWorkload

SIZES = (1_000, 10_000, 100_000)
ENVIRONMENTS = ("dev", "test", "staging", "prod")
DEEPDIFF_BUDGET_S = 20.0
REPEATS = 3


def inventory(size: int) -> tuple[list[DesiredService], list[LiveWorkload]]:
    """``size`` live workloads; every 100th service drifts, rotating through the kinds of drift."""
    desired: list[DesiredService] = []
    actual: list[LiveWorkload] = []
    for number in range(size):
        environment, service = ENVIRONMENTS[number % len(ENVIRONMENTS)], f"svc-{number:06d}"
        scaled = number % 3 == 0
        spec = DesiredService(
            environment=environment,
            service=service,
            image=f"example.azurecr.io/{service}:1.0.{number % 7}",
            replicas=2,
            config_hash=f"{number:064x}",
            secret_refs=(f"DB_PASSWORD=https://vault1.vault.azure.net/secrets/{service}",),
            min_replicas=1 if scaled else None,
            max_replicas=10 if scaled else None,
            ignore=("/secrets",) if number % 5 == 0 else (),
            revision=f"{service}-r1",  # the catalog's promoted revision: traffic is compared too
        )
        live = LiveWorkload(
            environment, service, f"{service}-r1", spec.image, 4 if scaled else 2, spec.config_hash, 100
        )
        desired.append(spec)
        drift = (number // 100) % 5 if number % 100 == 50 else None
        if drift == 0:  # missing: nothing live for the service; a retired service is left running instead
            actual.append(LiveWorkload(environment, service + "-retired", "retired-r1", "x:1", 1, "", 100))
            continue
        if drift == 1:
            live = LiveWorkload(environment, service, live.revision, spec.image + "-hotfix", 2, spec.config_hash, 100)
        elif drift == 2:
            live = LiveWorkload(environment, service, live.revision, spec.image, 12, spec.config_hash, 100)
        elif drift == 3:
            live = LiveWorkload(environment, service, live.revision, spec.image, live.replicas, "0" * 64, 100)
        elif drift == 4:  # an unmanaged debug shell next to the service
            actual.append(LiveWorkload(environment, service, "debug-shell", "busybox:1.36", 1, "", 0, managed=False))
        actual.append(live)
    return desired, actual


def as_dicts(desired: list[DesiredService], actual: list[LiveWorkload]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same comparison for DeepDiff: field values keyed by environment/service."""
    left = {
        f"{d.environment}/{d.service}": {
            "image": d.image,
            "replicas": d.replicas,
            "configHash": d.config_hash,
            "traffic": {d.revision: 100},
        }
        for d in desired
    }
    right = {
        f"{w.environment}/{w.service}": {
            "image": w.image,
            "replicas": w.replicas,
            "configHash": w.config_hash,
            "traffic": {w.revision: w.traffic_percent},
        }
        for w in actual
    }
    return left, right


def best_of(repeats: int, action: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()  # start each run without garbage left by building the inventory
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    figures: dict[str, float] = {}
    rows: list[tuple[int, float, int, float | None, str]] = []
    deepdiff_per_workload: float | None = None
    for size in SIZES:
        desired, actual = inventory(size)
        drift_s, items = best_of(REPEATS, functools.partial(classify, desired, actual))
        figures[f"drift_{size}_s"] = round(drift_s, 5)

        estimate = None if deepdiff_per_workload is None else deepdiff_per_workload * size
        deepdiff_s: float | None = None
        if estimate is None or estimate <= DEEPDIFF_BUDGET_S:
            left, right = as_dicts(desired, actual)
            repeats = REPEATS if estimate is None or estimate * REPEATS <= DEEPDIFF_BUDGET_S else 1
            deepdiff_s, _ = best_of(repeats, functools.partial(DeepDiff, left, right))
            deepdiff_per_workload = deepdiff_s / size
            figures[f"deepdiff_{size}_s"] = round(deepdiff_s, 4)
            note = f"best of {repeats}"
        else:
            note = f"skipped: about {estimate:.0f} s per run"
        rows.append((size, drift_s, len(items), deepdiff_s, note))  # type: ignore[arg-type]

    if "deepdiff_10000_s" in figures:
        figures["speedup_10000"] = round(figures["deepdiff_10000_s"] / figures["drift_10000_s"], 1)

    print("Drift classification, 1% drifted (image / replicas / config / unmanaged / missing), best of 3")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"DeepDiff {deepdiff_version} on the same desired/live fields keyed by environment/service")
    header = ("workloads", "classify s", "us/workload", "items", "DeepDiff s", "speedup")
    print("{:>10} {:>11} {:>12} {:>6} {:>11} {:>8}  note".format(*header))
    for size, drift_s, count, deepdiff_s, note in rows:
        shown = f"{deepdiff_s:>11.3f}" if deepdiff_s is not None else f"{'-':>11}"
        speedup = f"{deepdiff_s / drift_s:>7.0f}x" if deepdiff_s is not None else f"{'-':>8}"
        print(f"{size:>10} {drift_s:>11.4f} {drift_s / size * 1e6:>12.2f} {count:>6} {shown} {speedup}  {note}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
