"""Benchmark: one retention run over a store shaped like 1,000 services, on Azurite (Table storage).

Run: ``.venv/bin/python bench/retention.py [--services 1000] [--events 1500] [--expired-events 12000]
[--processed 4000] [--budget 480]``.
Starts its own Azurite on a free loopback port and loads, through the production adapters (8 writer threads):

- events: ``--events`` over 30 days plus ``--expired-events`` on the day past the 30-day retention, published,
  shaped like the failure monitor's, its biggest source: it reports a healthy service's check once a heartbeat
  (5 minutes), so at 1,000 services ticked every 10 s about 33 checks a tick share the tick's trace and an hourly
  run faces 12,000 expired events (``events_an_hour_at_1000_services``; reporting every check made it 360,000);
- processed-event ids: ``--processed`` of the scaling consumer (1-day window), half of them expired;
- deployments: three Completed ones a service, 120, 100 and 10 days old, the newest in the catalog; with the
  90-day retention the oldest goes, the 100-day one stays (what a rollback of the current one deploys again);
- loop state: a failure-monitor watch and a scaling record of 60 evaluations a service; half the scaling records
  stopped (their evaluations are 10 days old, past the 7-day history retention), half are live.

Then one run (``services.retention.run_retention``) with ``--budget`` seconds, timed, its table operations counted
(``CountingDocumentTables``), the time spent in each store's purge summed. Azurite answers every query by reading
the whole table (Table storage reads a key range), so its purge rates are a floor for Azure's. Prints a table,
then one JSON object of the figures as the last line.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.bootstrap.azure import table_service
from controlplane.config import Settings
from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.events import Envelope, traceparent_for
from controlplane.domain.failure import Watch
from controlplane.domain.loops import LoopRecord
from controlplane.domain.scaling_record import HISTORY_LIMIT, Evaluation, ScalingRecord
from controlplane.services import monitor, retention, scaling
from controlplane.testing.counting_documents import CountingDocumentTables
from funchost.azurite import Azurite
from tests.builders import COMPLETED_PATH, deployment, walked

WRITERS = 8
DAY = timedelta(days=1)
RETENTION = retention.Retention(events=30 * DAY, deployments=90 * DAY, loop_history=7 * DAY)
DEPLOYMENT_AGES = (120, 100, 10)  # days; the two oldest are past the 90-day retention, the 100-day one is kept
# The failure monitor reports a healthy service's check once a heartbeat: at 1,000 services ticked every 10 s,
# 12,000 HealthCheckCompleted an hour, about 33 a tick sharing the tick's trace (each check reported, it was 360,000).
MONITOR_EVENTS_AN_HOUR = 1000 * round(timedelta(hours=1) / monitor.HEARTBEAT)
EVENTS_A_TRACE = round(1000 * timedelta(seconds=10) / monitor.HEARTBEAT)
T = TypeVar("T")


def parallel(items: Iterable[T], action: Callable[[T], object]) -> int:
    loaded = 0
    with ThreadPoolExecutor(WRITERS) as pool:
        for _ in pool.map(action, items):
            loaded += 1
    return loaded


def envelope(number: int, at: datetime, prefix: str) -> Envelope:
    traceid = f"{prefix}{number // EVENTS_A_TRACE:031x}"  # a monitor tick's reported checks share its trace
    event_id = f"{prefix}-{number}"
    return Envelope(
        id=event_id,
        source="/bench",
        type="HealthCheckCompleted",
        time=at,
        data={"environment": "prod", "service": f"svc{number % 1000:04d}"},
        traceid=traceid,
        traceparent=traceparent_for(traceid, event_id),
        correlationid=traceid,
    )


def load_events(stores: Stores, kept: int, expired: int, now: datetime) -> None:
    span = RETENTION.events
    logged = [envelope(n, now - span * (n + 1) / (kept + 1), "a") for n in range(kept)]
    horizon_day = now - span - DAY  # every one on a UTC day wholly before the horizon's
    logged += [envelope(n, horizon_day - timedelta(seconds=n % 3600), "b") for n in range(expired)]
    traces: dict[str, list[Envelope]] = defaultdict(list)
    for event in logged:
        traces[event.traceid].append(event)
    parallel(traces.values(), stores.event_log.append_events)
    parallel(traces.values(), stores.event_log.mark_published)


def load_processed(stores: Stores, count: int, now: datetime) -> None:
    window = scaling.PROCESSED_TTL

    def mark(number: int) -> None:
        handled = now - 2 * window * (number + 1) / (count + 1)  # over two windows: about half expired
        stores.processed_events.mark_processed(scaling.CONSUMER, f"e-{number}", handled, handled, window)

    parallel(range(count), mark)


def load_services(stores: Stores, services: int, now: datetime) -> None:
    def one(number: int) -> None:
        service = f"svc{number:04d}"
        newest = None
        for age in DEPLOYMENT_AGES:
            requested = deployment(f"{service}-{age}d", "prod", (service,), now - age * DAY)
            newest = stores.deployments.create_deployment(walked(requested, COMPLETED_PATH))
        assert newest is not None
        spec = newest.release.service(service)
        entry = CatalogEntry("prod", service, newest.id, f"{service}-r4", spec.image, 2, "c0ffee", newest.updated_at)
        stores.catalog.put_catalog_entry(entry)
        key = f"prod/{service}"
        stores.loop_states.put_loop_state(LoopRecord(monitor.LOOP, key, Watch(newest.id).to_dict()))
        last = now - 10 * DAY if number % 2 else now
        history = tuple(
            Evaluation(last - timedelta(seconds=30 * step), 2, 2, 1, 10, {"cpu": 40.0}, None, "within bounds")
            for step in reversed(range(HISTORY_LIMIT))
        )
        stores.loop_states.put_loop_state(LoopRecord(scaling.LOOP, key, ScalingRecord(history=history).to_dict()))

    parallel(range(services), one)


@dataclass
class Timed:
    """A port whose every method call's time is added to ``spent[name]``."""

    port: Any
    name: str
    spent: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __getattr__(self, attribute: str) -> Any:
        method = getattr(self.port, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                with self.lock:
                    self.spent[self.name] += time.perf_counter() - started

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1500, help="events kept (within the 30-day retention)")
    parser.add_argument(
        "--expired-events", type=int, default=MONITOR_EVENTS_AN_HOUR, help="events past the retention (an hour's)"
    )
    parser.add_argument("--processed", type=int, default=4000)
    parser.add_argument("--budget", type=float, default=480.0)
    options = parser.parse_args()
    now = datetime.now(UTC)
    with Azurite(Path(__file__).resolve().parents[1]) as azurite:
        service = table_service(Settings.from_environment({"CONTROLPLANE_STORAGE": azurite.connection_string}))
        counting = CountingDocumentTables(AzureTableDocuments(service, "bench"))
        create_tables(counting)
        stores = Stores.over(counting)
        started = time.perf_counter()
        load_events(stores, options.events, options.expired_events, now)
        load_processed(stores, options.processed, now)
        load_services(stores, options.services, now)
        load_s = time.perf_counter() - started
        counting.reset()

        spent: dict[str, float] = defaultdict(float)
        timed = retention.RetentionStores(
            Timed(stores.event_log, "events", spent),
            Timed(stores.processed_events, "processedEvents", spent),
            Timed(stores.deployment_retention, "deployments", spent),
            stores.catalog,
            stores.findings,
            Timed(stores.loop_states, "loopHistory", spent),
        )
        started = time.perf_counter()
        outcomes = retention.run_retention(timed, now, RETENTION, retention.Budget(options.budget))
        run_s = time.perf_counter() - started

    figures: dict[str, Any] = {
        "services": options.services,
        "load_s": round(load_s, 1),
        "events_stored": options.events + options.expired_events,
        "processed_stored": options.processed,
        "deployments_stored": options.services * len(DEPLOYMENT_AGES),
        "loop_records": 2 * options.services,
        "run_s": round(run_s, 1),
        "budget_s": options.budget,
        "complete": all(outcome.complete for outcome in outcomes.values()),
        "table_ops": counting.total,
        "rows_read": counting.rows_read,
    }
    for name, outcome in outcomes.items():
        figures[f"deleted_{name}"] = outcome.deleted
        figures[f"{name}_per_s"] = round(outcome.deleted / spent[name], 1) if spent[name] else None
    events_per_s = figures["events_per_s"] or 0.0
    figures["events_an_hour_at_1000_services"] = MONITOR_EVENTS_AN_HOUR
    figures["events_a_run_deletes_at_this_rate"] = round(events_per_s * options.budget)
    figures["event_purge_keeps_up"] = figures["events_a_run_deletes_at_this_rate"] >= MONITOR_EVENTS_AN_HOUR

    print(f"One retention run over a store shaped like {options.services} services, on Azurite")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'store':<16} {'deleted':>9} {'complete':>9} {'seconds':>8} {'per s':>9}")
    for name, outcome in outcomes.items():
        rate = figures[f"{name}_per_s"]
        print(f"{name:<16} {outcome.deleted:>9} {outcome.complete!s:>9} {spent[name]:>8.1f} {rate or '-':>9}")
    for name in ("load_s", "run_s", "table_ops", "rows_read"):
        print(f"{name:<16} {figures[name]:>9}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
