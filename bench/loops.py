"""Benchmark: one failure-monitor tick and one scaling tick over 1,000 services, and their table operations.

Run: ``.venv/bin/python bench/loops.py [--services 1000] [--delay 0.2] [--concurrency 64] [--memory]``.

Each service has a Completed deployment (with a scaling policy), its catalog entry and a live revision
(in-memory compute). The stored records are on Azurite (real Table storage through the production adapter; the
bench starts its own, in memory) unless ``--memory``. Health endpoints are real HTTP: one aiohttp server on
127.0.0.1 that answers every path Healthy after ``--delay`` seconds, probed by the production ``HttpHealthProbe``;
metric reads are a fake that answers after ``--delay`` (cpu at the policy's target: no change to apply).

Each loop ticks twice (the first tick of a fresh store also creates each service's loop record); every tick is
timed and its table operations counted (``CountingDocumentTables``). A service counts as covered by a monitor tick
when its probe answered by the tick's deadline. At the default ``--heartbeat`` (the product's, 300 s) a monitor
tick reports the passing checks of the healthy services whose heartbeat falls due (about one tick's share of
the interval: none at the first tick, which places each service in it); ``--heartbeat 0`` reports every check,
as the monitor did before. The figures are the slower tick of each
loop and the larger operations-per-service count of any tick. Prints a table, then one JSON object of the
figures as the last line. The issue's baseline: 202 s for one monitor tick over 1,000 services, and 1,000,000
rows read per tick by the in-flight checks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.adapters.storage.documents import DocumentTables
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.domain.deployment import Deployment
from controlplane.domain.health import HealthReport
from controlplane.domain.manifest import parse_release
from controlplane.domain.rollout.target import revision_name
from controlplane.domain.runtime import MetricKind, MetricReading
from controlplane.ports import HealthProbe, Metrics
from controlplane.services.monitor import HEARTBEAT
from controlplane.services.rollout import revision_spec
from controlplane.services.tick import TickLimits
from controlplane.testing.counting_documents import CountingDocumentTables
from controlplane.testing.fakes import RecordingEventBus
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_documents import MemoryDocumentTables
from tests.builders import completed, promoted, release_document
from triggers.loops import monitor_over, scaler_over

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = "bench"
T1 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
GOAL_TICK_S = 10.0
CPU_TARGET = 50.0
POLICY = {"minReplicas": 1, "maxReplicas": 6, "cooldownSeconds": 60, "rules": [{"metric": "cpu", "target": 50}]}
HEALTHY = json.dumps({"status": "Healthy", "totalDuration": "00:00:00.0010000", "entries": {}})


@contextmanager
def health_server(delay: float) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering every GET Healthy after ``delay`` seconds; its base URL."""
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}

    async def answer(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return web.Response(text=HEALTHY, content_type="application/json")

    async def start() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, listener, backlog=1024)
        await site.start()
        holder["runner"], holder["port"] = runner, listener.getsockname()[1]
        ready.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="bench-health-server", daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


class SlowMetrics:
    """The Metrics port answering after ``delay`` seconds, every metric at the policy's target."""

    def __init__(self, delay: float) -> None:
        self._delay = delay

    def read(self, environment: str, service: str, metrics: Iterable[MetricKind]) -> list[MetricReading]:
        time.sleep(self._delay)
        return [MetricReading(MetricKind(kind), CPU_TARGET) for kind in metrics]


def seed(stores: Stores, compute: MemoryCompute, services: int, workers: int = 16) -> list[str]:
    """``services`` services, each with a Completed deployment (scaling policy included), its catalog entry and
    a live revision with all the traffic; their names."""
    names = [f"svc{n:04d}" for n in range(services)]

    def one(n: int) -> None:
        name = names[n]
        document = release_document(ENVIRONMENT, (name,))
        document["spec"]["services"][0]["scaling"] = POLICY
        requested = Deployment.request(f"dep-{n:06d}", parse_release(document), uuid.uuid4().hex, T1)
        revision = revision_name(name, requested.id)
        done = stores.deployments.create_deployment(completed(requested, {name: revision}))
        compute.deploy_revision(revision_spec(done, name, revision, 2))
        compute.set_traffic(ENVIRONMENT, name, {revision: 100})
        stores.catalog.put_catalog_entry(promoted(done, name, revision))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(services)))
    return names


@dataclass(frozen=True)
class TickFigures:
    loop: str
    tick: int
    seconds: float
    covered: int  # services checked (monitor) or evaluated (scaling) in this tick
    operations: int
    rows_read: int


class AnsweringProbe:
    """A HealthProbe that notes when each probe answered (a probe still out at the tick's deadline is no reading)."""

    def __init__(self, probe: HealthProbe) -> None:
        self._probe = probe
        self.answered: list[float] = []

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        report = self._probe.probe(environment, service, revision, path)
        self.answered.append(time.perf_counter())
        return report

    def within(self, started: float, deadline: timedelta) -> int:
        """The probes that answered between ``started`` and the deadline after it; forgets them all."""
        ends = started + deadline.total_seconds()
        answered, self.answered = self.answered, []
        return sum(started <= at <= ends for at in answered)


def timed_ticks(
    loop: str,
    tick: Callable[[datetime], Any],
    covered: Callable[[Any, float], int],
    tables: CountingDocumentTables,
    at: list[datetime],
) -> list[TickFigures]:
    figures = []
    for number, now in enumerate(at, start=1):
        tables.reset()
        started = time.perf_counter()
        outcome = tick(now)
        elapsed = time.perf_counter() - started
        figures.append(TickFigures(loop, number, elapsed, covered(outcome, started), tables.total, tables.rows_read))
    return figures


def measure(
    tables: DocumentTables,
    probe: HealthProbe,
    metrics: Metrics,
    services: int,
    limits: TickLimits,
    heartbeat: timedelta = HEARTBEAT,
) -> list[TickFigures]:
    """Seed ``services`` on ``tables``, then tick the monitor and the scaling loop twice each."""
    create_tables(tables)
    counting = CountingDocumentTables(tables)
    stores = Stores.over(counting)
    compute = MemoryCompute()
    seed(stores, compute, services)
    bus = RecordingEventBus()
    answering = AnsweringProbe(probe)
    monitor = monitor_over(stores, bus, answering, "/bench/monitor", timedelta(seconds=60), limits, heartbeat)
    scaler = scaler_over(stores, bus, compute, metrics, "/bench/scaling", limits)

    def checked(_: object, started: float) -> int:
        return answering.within(started, limits.deadline)

    def evaluated(outcomes: list[dict[str, Any]], _: float) -> int:
        return sum("replicas" in outcome for outcome in outcomes)

    seconds = timedelta(seconds=1)
    return [
        *timed_ticks("monitor", monitor.tick, checked, counting, [T1 + 10 * seconds, T1 + 20 * seconds]),
        *timed_ticks("scaling", scaler.tick, evaluated, counting, [T1 + 30 * seconds, T1 + 60 * seconds]),
    ]


def report(figures: list[TickFigures], services: int) -> dict[str, Any]:
    """The JSON figures: the slower tick of each loop, the most table operations per service of any tick."""
    slowest = {loop: max(f.seconds for f in figures if f.loop == loop) for loop in ("monitor", "scaling")}
    return {
        "services": services,
        f"monitor_tick_{services}_s": round(slowest["monitor"], 2),
        f"scaling_tick_{services}_s": round(slowest["scaling"], 2),
        "table_ops_per_service_tick": round(max(f.operations for f in figures) / services, 2),
        "rows_read_per_service_tick": round(max(f.rows_read for f in figures) / services, 2),
        "services_covered_per_tick": min(f.covered for f in figures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000, help="services in the catalog")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds a health endpoint or metric read takes")
    parser.add_argument("--concurrency", type=int, default=TickLimits().concurrency, help="services at once")
    parser.add_argument("--memory", action="store_true", help="in-memory tables instead of Azurite")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=HEARTBEAT.total_seconds(),
        help="seconds between reports of a healthy service's check (0: every check reported)",
    )
    arguments = parser.parse_args()
    limits = TickLimits(concurrency=arguments.concurrency)
    with ExitStack() as stack:
        base = stack.enter_context(health_server(arguments.delay))
        probe = HttpHealthProbe(lambda environment, service, revision: [base])
        tables: DocumentTables
        if arguments.memory:
            tables, store = MemoryDocumentTables(), "memory"
        else:
            from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
            from controlplane.bootstrap.azure import table_service
            from controlplane.config import Settings
            from funchost.azurite import Azurite

            azurite = stack.enter_context(Azurite(ROOT))
            service = table_service(Settings.from_environment({"CONTROLPLANE_STORAGE": azurite.connection_string}))
            tables, store = AzureTableDocuments(service, "bench"), "Azurite"
        heartbeat = timedelta(seconds=arguments.heartbeat)
        figures = measure(tables, probe, SlowMetrics(arguments.delay), arguments.services, limits, heartbeat)

    services = arguments.services
    print(f"Loop ticks over {services} services: {arguments.delay * 1000:g} ms health endpoints (HTTP) and metric")
    print(f"reads, concurrency {limits.concurrency}, deadline {limits.deadline.total_seconds():g} s, store {store},")
    print(f"a healthy service's check reported every {arguments.heartbeat:g} s (0: every check)")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    header = (
        f"{'tick':<12} {'seconds':>8} {'covered':>8} {'table ops':>10} {'ops/svc':>8} {'rows read':>10} {'rows/svc':>9}"
    )
    print(header)
    for f in figures:
        print(
            f"{f.loop + ' ' + str(f.tick):<12} {f.seconds:>8.2f} {f.covered:>8} {f.operations:>10} "
            f"{f.operations / services:>8.2f} {f.rows_read:>10} {f.rows_read / services:>9.2f}"
        )
    print(f"goal: each tick under {GOAL_TICK_S:g} s, every service covered, table operations per service constant")
    print(json.dumps(report(figures, services)))


if __name__ == "__main__":
    main()
