"""The sections of bench/reliability.py: each runs one piece of issue 12's checks against real local hosts (the
pieces themselves are the e2e tests' reusable runs) and returns its figures, keyed as the report's JSON."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funchost.http_routes import compile_routes
from funchost.tests.e2e.auth_sweep import sweep_host
from tests.e2e.api_fuzz import fuzz_api
from tests.e2e.crash_trials import run_crash_trials
from tests.e2e.durability import deployment_survives_group_kill, drift_approval_survives_group_kill
from tests.e2e.fault_cases import run_bus_outage, run_storage_outage
from tests.e2e.host_process import ROOT, HostProcess, product_settings
from tests.e2e.idempotency_rounds import idempotency_rounds
from tests.e2e.role_sweep import route_actions, sweep_roles
from tests.product_app import index

Figures = dict[str, Any]


@dataclass(frozen=True)
class Bounds:
    seed: int
    kills: int
    fuzz_examples: int
    rounds: int
    callers: int


@dataclass(frozen=True)
class Context:
    storage: str  # the shared Azurite's connection string
    workdir: Path
    bounds: Bounds
    stores: dict[str, dict[str, str]] = field(default_factory=dict)  # the settings of each product host run here

    def folder(self, name: str) -> Path:
        folder = self.workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


@contextmanager
def product_host(context: Context, name: str) -> Iterator[HostProcess]:
    """A product host (``python -m controlplane up``) over the shared Azurite, with a store of its own."""
    local = context.folder(name)
    host = HostProcess(context.storage, "function_app:app", local, product_settings(local))
    context.stores[name] = host.settings
    host.start()
    try:
        yield host
    finally:
        host.stop()


def route_sweep(context: Context) -> Figures:
    """The surfaces the product's host guards, with no key, a wrong key and each key kind (funchost's auth_sweep),
    and every product route as every caller: keys, forged or expired tokens, each app role (the role sweep)."""
    with product_host(context, "auth") as host:
        keyed = sweep_host(host.base_url, host.keys(), [], host.rpc_origin)
        roles = sweep_roles(host, compile_routes(index()), route_actions(index()))
    return {
        "auth_calls": len(keyed.cases) + len(roles.cases),
        "auth_leaks": len(keyed.leaks) + len(roles.leaks),
        "auth_mismatches": len(keyed.wrong) + len(roles.wrong),
    }


def crash_trials(context: Context) -> Figures:
    """SIGKILLs of a product host at seeded random moments across the demo scenario, a restart after each; then
    every deployment of its store checked, and its workload processes."""
    report = run_crash_trials(context.storage, context.folder("crash"), context.bounds.seed, context.bounds.kills)
    for trial in report.trials:
        print(f"crash trial: {trial}", file=sys.stderr)
    figures = report.figures()
    figures["stuck_deployments_crash"] = figures.pop("stuck_deployments")  # the report's total counts it in
    return {**figures, "crash_trial_states": [trial.state for trial in report.trials]}


def faults(context: Context) -> Figures:
    """The bus failing for a whole deployment, then the relay; storage stopped mid-deployment, then back."""
    bus = run_bus_outage(context.storage, context.folder("bus-outage"))
    storage = run_storage_outage(context.folder("storage-outage"))
    print(f"storage outage: stopped in {storage.stopped_in}, ended {storage.state}", file=sys.stderr)
    refused = [status == 503 and headers.get("Retry-After", "").isdigit() for status, headers, _ in storage.answers]
    return {**bus.figures(), **storage.figures(), "storage_outage_not_503_retry_after": refused.count(False)}


def api_fuzz(context: Context) -> Figures:
    """Schemathesis against the product host from the OpenAPI document it serves (derandomized, bounded)."""
    with product_host(context, "fuzz") as host:
        result = fuzz_api(host.base_url, host.auth_headers(), max_examples=context.bounds.fuzz_examples)
    for failure in result.failures:
        print(f"fuzz: {failure}", file=sys.stderr)
    return {"fuzz_requests": result.requests, "fuzz_5xx": result.server_errors, "fuzz_findings": len(result.failures)}


def idempotency(context: Context) -> Figures:
    """Rounds of identical concurrent POSTs with one Idempotency-Key, then a differing and a mixed round."""
    with product_host(context, "idempotency") as host:
        report = idempotency_rounds(host, rounds=context.bounds.rounds, callers=context.bounds.callers)
    for violation in report.violations:
        print(f"idempotency: {violation}", file=sys.stderr)
    return {
        "idempotency_rounds": report.rounds,
        "idempotency_requests": report.requests,
        "idempotency_violations": len(report.violations),
        "idempotency_dangling_ids": len(report.dangling_ids),
    }


def group_kill(context: Context) -> Figures:
    """SIGKILL of the host's whole process group right after a deployment's 202 and a drift approval's 202."""
    outcomes = [
        deployment_survives_group_kill(context.folder("group-kill-deployment")),
        drift_approval_survives_group_kill(context.folder("group-kill-drift")),
    ]
    for outcome in outcomes:
        print(f"group kill: {outcome}", file=sys.stderr)
    return {
        "group_kill_records": len(outcomes),
        "group_kill_records_lost": sum(not (outcome.found and outcome.decision_kept) for outcome in outcomes),
        "group_kill_terminal_events": [outcome.terminal_events for outcome in outcomes],
    }


def stuck_in_stores(context: Context) -> Figures:
    """The operator's ``controlplane stuck`` over the store of every product host the sections above ran: the
    non-terminal deployments whose orchestration is gone or ended (what the reconciler would end)."""
    if not context.stores:
        return {"stores_checked": 0}  # nothing to count: the figure stays null, not a reassuring 0
    stuck = 0
    for name, settings in context.stores.items():
        env = {**os.environ, **settings, "CONTROLPLANE_STORAGE": context.storage}
        command = [sys.executable, "-m", "controlplane", "stuck"]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        last = (done.stdout.splitlines() or [""])[-1]
        if not last.endswith("stuck deployment(s)"):
            raise RuntimeError(f"controlplane stuck over {name}'s store: {done.stderr.strip()[-500:]}")
        print(f"stuck, {name}'s store:\n{done.stdout.strip()}", file=sys.stderr)
        stuck += int(last.split()[0])
    return {"stores_checked": len(context.stores), "stuck_deployments_in_stores": stuck}
