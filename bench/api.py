"""Benchmark (issue 15): ``GET /api/deployments`` pages over many stored deployments, at many concurrent callers,
through a real product host (``python -m controlplane up``) on Azurite.

Run: ``.venv/bin/python bench/api.py [--deployments 10000] [--concurrency 50] [--requests 1000] [--top 50]``
(after ``make setup``). Starts an in-memory Azurite on free ports, stores ``--deployments`` finished deployments
through the Deployments store (record and index, as the product writes them; 32 threads), one to three services
each out of 20, over three environments, a minute apart; then starts a product host over that store with its
timers set to run once a year, so the loops' reads do not mix into what is measured. Each case sends
``--requests`` requests from ``--concurrency`` threads, each thread on one keep-alive connection, after a warm-up
round; latencies are per request, as the caller sees them. Prints a table, then one JSON object of the figures as
the last line; ``list_deployments_p95_ms_10000`` is the p95 of ``?top=50`` (the issue's goal: under 150 ms).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.bootstrap.azure import table_service
from controlplane.config import SCHEDULE_DEFAULTS, Settings
from controlplane.domain.deployment import Deployment, DeploymentState
from funchost.azurite import Azurite
from tests.builders import COMPLETED_PATH, release, walked
from tests.e2e.host_process import PRODUCT_APP, ROOT, HostProcess, product_settings

SERVICES = tuple(f"svc{number:02d}" for number in range(20))
ENVIRONMENTS = ("dev", "staging", "prod")
ONCE_A_YEAR = "0 0 0 1 1 *"
SEED_THREADS = 32


def seeded(number: int, start: datetime) -> Deployment:
    """The ``number``th deployment: finished (Completed, one in ten Failed), 1 to 3 services, a minute apart."""
    services = tuple(SERVICES[(number + offset * 7) % len(SERVICES)] for offset in range(1 + number % 3))
    requested = Deployment.request(
        f"bench-{number:06d}",
        release(ENVIRONMENTS[number % len(ENVIRONMENTS)], services, f"1.{number // 1000}.{number % 1000}"),
        f"{number + 1:032x}",
        start + timedelta(minutes=number),
    )
    if number % 10 == 9:
        return walked(requested, (DeploymentState.PROVISIONING, DeploymentState.FAILED))
    return walked(requested, COMPLETED_PATH)


def seed(stores: Stores, count: int) -> float:
    """Store ``count`` deployments; the seconds it took."""
    start = datetime.now(UTC) - timedelta(minutes=count + 1)
    started = time.perf_counter()
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        list(pool.map(lambda number: stores.deployments.create_deployment(seeded(number, start)), range(count)))
    return time.perf_counter() - started


@dataclass(frozen=True)
class Case:
    name: str
    path: str


def measure(host: HostProcess, path: str, requests: int, concurrency: int) -> tuple[list[float], int]:
    """Latencies (ms) of ``requests`` GETs of ``path`` from ``concurrency`` threads, and how many were not 200."""
    address = urlsplit(host.base_url)
    headers = {"Authorization": f"Bearer {host.caller_token}"}
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    shares = [requests // concurrency + (1 if index < requests % concurrency else 0) for index in range(concurrency)]
    barrier = threading.Barrier(concurrency)

    def caller(share: int) -> None:
        nonlocal failures
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=60)
        mine, bad = [], 0
        barrier.wait()
        for _ in range(share):
            began = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - began) * 1000)
            bad += response.status != 200
        connection.close()
        with lock:
            latencies.extend(mine)
            failures += bad

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(caller, shares))
    return latencies, failures


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=50)
    options = parser.parse_args()
    cases = (
        Case("newest page", f"/api/deployments?top={options.top}"),
        Case("one service", f"/api/deployments?service={SERVICES[3]}&top={options.top}"),
        Case("environment+state", f"/api/deployments?environment=prod&state=Failed&top={options.top}"),
        Case("host floor", "/api/me"),  # no storage read: what the host and sign-in cost a request
    )
    figures: dict[str, object] = {"deployments": options.deployments, "concurrency": options.concurrency}
    rows = []
    with Azurite(ROOT) as azurite, tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        local = Path(folder)
        settings = product_settings(local, **{name: ONCE_A_YEAR for name in SCHEDULE_DEFAULTS})
        environ = {"CONTROLPLANE_STORAGE": azurite.connection_string, **settings}
        tables = AzureTableDocuments(
            table_service(Settings.from_environment(environ)), settings["CONTROLPLANE_TABLE_PREFIX"]
        )
        create_tables(tables)
        figures["seed_s"] = round(seed(Stores.over(tables), options.deployments), 1)
        host = HostProcess(azurite.connection_string, PRODUCT_APP, local, settings).start()
        try:
            for case in cases:
                code, first = host.request("GET", case.path)
                if code != 200:
                    raise RuntimeError(f"GET {case.path} answered {code}: {first}")
                measure(host, case.path, options.concurrency, options.concurrency)  # warm-up
                started = time.perf_counter()
                latencies, failures = measure(host, case.path, options.requests, options.concurrency)
                elapsed = time.perf_counter() - started
                rows.append(
                    (
                        case,
                        len(first.get("deployments", [first])),
                        statistics.median(latencies),
                        percentile(latencies, 0.95),
                        percentile(latencies, 0.99),
                        len(latencies) / elapsed,
                        failures,
                    )
                )
        finally:
            host.stop()
    print(
        f"GET /api/deployments over {options.deployments} stored deployments, {options.concurrency} concurrent "
        f"callers, {options.requests} requests a case, on the local host and Azurite"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.python_implementation()} "
        f"{platform.python_version()}; seeding took {figures['seed_s']} s"
    )
    print(f"{'case':<20} {'items':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} {'non-200':>7}  path")
    for case, items, p50, p95, p99, rate, failures in rows:
        print(f"{case.name:<20} {items:>5} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} {rate:>7.1f} {failures:>7}  {case.path}")
    keys = ("list_deployments", "list_deployments_service", "list_deployments_environment_state", "me")
    for key, (_, _, p50, p95, _, _, failures) in zip(keys, rows, strict=True):
        figures[f"{key}_p50_ms"] = round(p50, 1)
        figures[f"{key}_p95_ms"] = round(p95, 1)
        figures[f"{key}_non_200"] = failures
    # The key names the store's size: ``list_deployments_p95_ms_10000`` at the default.
    figures[f"list_deployments_p95_ms_{options.deployments}"] = figures.pop("list_deployments_p95_ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
