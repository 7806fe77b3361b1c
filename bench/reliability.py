"""Reliability report (issue 12): the crash trials, the API fuzz, the route sweep, the Idempotency-Key rounds, the
fault cases and the process-group kills, each against real local hosts with fixed bounds; then the operator's
``controlplane stuck`` over every product host's store. What must hold is counted, not timed.

Run: ``.venv/bin/python bench/reliability.py [--seed 12] [--kills 9] [--fuzz-examples 25] [--rounds 20]
[--callers 50] [--sections crash,fuzz,...]`` (after ``make setup``). It starts what it needs: an in-memory Azurite
on free ports shared by the sections' product hosts (each with tables and a task hub of its own); the cases that
stop or kill storage start their own. The defaults take a few minutes on 2 cores; raise ``--kills``,
``--fuzz-examples`` and ``--rounds`` for a longer run. Prints a table (each figure with its goal), then one JSON
object of the figures as the last line; a section not run has null figures. ``stuck_deployments`` is the crash
trials' count (deployments not terminal with exactly one terminal event) plus the ``stuck`` command's over the
other stores. Exits 1 when a section failed to run or a figure missed its goal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliability_sections import (
    Bounds,
    Context,
    Figures,
    api_fuzz,
    crash_trials,
    faults,
    group_kill,
    idempotency,
    route_sweep,
    stuck_in_stores,
)

from funchost.azurite import Azurite
from tests.e2e.host_process import ROOT
from tests.e2e.scenario import TERMINAL_STATES

KILLS = 9  # the issue's own crash trials were 9
FUZZ_EXAMPLES = 25  # per operation and generation mode: about 850 requests, three times what `make test` sends


def zero(value: Any) -> bool:
    return value == 0


def each_one(values: list[int]) -> bool:
    return all(value == 1 for value in values)


def each_terminal(states: list[str]) -> bool:
    return all(state in TERMINAL_STATES for state in states)


def is_true(value: bool) -> bool:
    return value is True


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    goal: Callable[[Any], bool] | None = None  # None: a count, not a pass/fail figure
    goal_text: str = ""


@dataclass(frozen=True)
class Section:
    name: str
    run: Callable[[Context], Figures] | None  # None: left out (--sections)
    rows: tuple[Row, ...]


SECTIONS = (
    Section(
        "crash",
        crash_trials,
        (
            Row("crash_trials", "host SIGKILLs at random moments of the demo scenario"),
            Row("crash_trial_states", "each trial's deployment after the restart", each_terminal, "ended"),
            Row("terminal_events_per_trial", "terminal events per trial", each_one, "each 1"),
            Row("duplicate_event_ids", "event ids seen twice (every deployment)", zero, "0"),
            Row("stuck_deployments_crash", "deployments not terminal with one terminal event", zero, "0"),
            Row("orphan_workloads", "workload processes not recorded, or left after a stop", zero, "0"),
        ),
    ),
    Section(
        "fuzz",
        api_fuzz,
        (
            Row("fuzz_requests", "requests generated from GET /api/openapi.json"),
            Row("fuzz_5xx", "answers with a 5xx status", zero, "0"),
            Row("fuzz_findings", "findings: a 5xx, an answer off the document, a hang, ...", zero, "0"),
        ),
    ),
    Section(
        "auth",
        route_sweep,
        (
            Row("auth_calls", "calls: host surfaces x every key kind; product routes x keys, tokens, each role"),
            Row("auth_leaks", "calls without the right key, token or role that got in", zero, "0"),
            Row("auth_mismatches", "answers other than Azure's or the role table's", zero, "0"),
        ),
    ),
    Section(
        "idem",
        idempotency,
        (
            Row("idempotency_rounds", "rounds of concurrent POSTs with one Idempotency-Key"),
            Row("idempotency_requests", "requests"),
            Row("idempotency_violations", "broken promises (not one 202, ids differ, 422 missing)", zero, "0"),
            Row("idempotency_dangling_ids", "deployment ids answered that GET does not find", zero, "0"),
        ),
    ),
    Section(
        "faults",
        faults,
        (
            Row("lost_events", "bus down: events logged, never published (or out of order)", zero, "0"),
            Row("bus_outage_published_during", "bus down: events that reached it meanwhile", zero, "0"),
            Row("storage_outage_statuses", "storage down: what clients got meanwhile"),
            Row("storage_outage_not_503_retry_after", "storage down: answers not 503 with Retry-After", zero, "0"),
            Row("storage_outage_leaks", "storage down: answers naming storage, paths, tracebacks", zero, "0"),
            Row("storage_outage_recovered", "storage back: deployment Completed once, timers, bus", is_true, "true"),
        ),
    ),
    Section(
        "durable",
        group_kill,
        (
            Row("group_kill_records", "records acknowledged (202) just before a process-group kill"),
            Row("group_kill_records_lost", "of them missing or changed after the restart", zero, "0"),
            Row("group_kill_terminal_events", "terminal events of each after the restart", each_one, "each 1"),
        ),
    ),
    Section(
        "stuck",
        stuck_in_stores,
        (
            Row("stores_checked", "stores of the product hosts above (controlplane stuck)"),
            Row("stuck_deployments_in_stores", "deployments whose orchestration is gone or ended", zero, "0"),
            Row("stuck_deployments", "stuck deployments in all (crash trials + stores)", zero, "0"),
        ),
    ),
)


def run(sections: tuple[Section, ...], context: Context) -> tuple[Figures, dict[str, float], dict[str, str]]:
    figures: Figures = {}
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    for section in sections:
        figures.update(dict.fromkeys((row.key for row in section.rows), None))
        if section.run is None:
            continue
        print(f"running {section.name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            figures.update(section.run(context))
        except Exception as error:  # a section that breaks is reported as such; the others still run
            traceback.print_exc()
            errors[section.name] = f"{type(error).__name__}: {error}"
        seconds[section.name] = round(time.monotonic() - started, 1)
    counted = [figures.get(key) for key in ("stuck_deployments_crash", "stuck_deployments_in_stores")]
    found = [count for count in counted if count is not None]
    figures["stuck_deployments"] = sum(found) if found else None
    return figures, seconds, errors


def table(sections: tuple[Section, ...], figures: Figures, seconds: dict[str, float], errors: dict[str, str]) -> bool:
    """Print the table; whether every figure that has a goal met it."""
    met = True
    print(f"{'section':<8} {'figure':<58} {'value':>26} {'goal':>7}  ok")
    for section in sections:
        missing = "failed" if section.name in errors else "not run"
        for row in section.rows:
            value = figures[row.key]
            if value is None:
                print(f"{section.name:<8} {row.label:<58} {missing:>26}")
                continue
            ok = row.goal is None or row.goal(value)
            met &= ok
            shown = str(value)
            if isinstance(value, list):  # counted: "9x 1", "6x Completed, 3x RolledBack" (the JSON has the list)
                shown = ", ".join(f"{count}x {item}" for item, count in Counter(value).items())
            mark = "" if row.goal is None else ("yes" if ok else "NO")
            print(f"{section.name:<8} {row.label:<58} {shown:>26} {row.goal_text:>7}  {mark}")
        if section.name in seconds:
            print(f"{'':<8} {'(section time, s)':<58} {seconds[section.name]:>26}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=12, help="the crash trials' kill moments")
    parser.add_argument("--kills", type=int, default=KILLS, help="crash trials (one host SIGKILL each)")
    parser.add_argument("--fuzz-examples", type=int, default=FUZZ_EXAMPLES, help="per operation and mode")
    parser.add_argument("--rounds", type=int, default=20, help="Idempotency-Key rounds of identical requests")
    parser.add_argument("--callers", type=int, default=50, help="concurrent identical requests per round")
    names = [section.name for section in SECTIONS]
    parser.add_argument("--sections", default=",".join(names), help=f"a comma-separated subset of {names}")
    args = parser.parse_args()
    chosen = set(args.sections.split(","))
    if chosen - set(names):
        parser.error(f"unknown sections {sorted(chosen - set(names))}; choose from {names}")
    sections = tuple(
        section if section.name in chosen else Section(section.name, None, section.rows) for section in SECTIONS
    )
    bounds = Bounds(args.seed, args.kills, args.fuzz_examples, args.rounds, args.callers)

    workdir = Path(tempfile.mkdtemp(prefix="reliability-"))
    started = time.monotonic()
    with Azurite(ROOT) as azurite:
        figures, seconds, errors = run(sections, Context(azurite.connection_string, workdir, bounds))
    total = round(time.monotonic() - started, 1)

    print("Reliability report: real hosts over Azurite, fixed bounds (issue 12)")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )
    print(
        f"bounds: seed {bounds.seed}, {bounds.kills} kills, {bounds.fuzz_examples} fuzz examples per operation "
        f"and mode, {bounds.rounds} rounds x {bounds.callers} callers; total {total} s"
    )
    met = table(sections, figures, seconds, errors)
    for name, error in errors.items():
        print(f"{name} failed to run: {error}")
    if met and not errors:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"host logs kept in {workdir}")
    machine = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}
    report = {
        **figures,
        "bounds": asdict(bounds),
        "not_run": [section.name for section in sections if section.run is None],
        "errors": errors,
        "seconds": {**seconds, "total": total},
        **machine,
    }
    print(json.dumps(report))
    sys.exit(0 if met and not errors else 1)


if __name__ == "__main__":
    main()
