"""Benchmark: the audit query over the event log on Azurite (Table storage): appending (outbox, audit index, log),
the first page newest first, a filtered page, paging through a day, and the retention purge.

Run: ``.venv/bin/python bench/audit.py [--events 3000] [--days 30] [--runs 9]``. Starts its own Azurite on a free
loopback port. The events are spread evenly over ``--days`` days, three environments and three services; one in
a hundred is an operator's (``data.actor``). Latencies are medians over ``--runs`` queries. Prints a table, then
one JSON object of the figures as the last line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.bootstrap.azure import table_service
from controlplane.config import Settings
from controlplane.domain.audit import EventQuery
from controlplane.domain.events import Envelope, traceparent_for
from funchost.azurite import Azurite

TYPES = ("RuntimeDeploymentStateChanged", "HealthCheckCompleted", "ScalingPolicyApplied")
ACTOR_NAME = "ana@contoso.com"
ACTOR: dict[str, object] = {
    "name": ACTOR_NAME,
    "objectId": "00000000-0000-4000-8000-0000000000a1",
    "roles": ["Approver"],
}


def events(count: int, days: int, now: datetime) -> list[Envelope]:
    step = timedelta(days=days) / count
    built = []
    for number in range(count):
        traceid = f"{number // 10 + 1:032x}"  # ten events a trace
        data: dict[str, object] = {"environment": f"env{number % 3}", "service": f"svc{number % 3}"}
        if number % 100 == 0:
            data["actor"] = ACTOR
        event_id = f"e-{number}"
        built.append(
            Envelope(
                id=event_id,
                source="/bench",
                type=TYPES[number % len(TYPES)],
                time=now - step * (count - number),
                data=data,
                traceid=traceid,
                traceparent=traceparent_for(traceid, event_id),
                correlationid=traceid,
            )
        )
    return built


def median_ms(runs: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=9)
    options = parser.parse_args()
    now = datetime.now(UTC)
    logged = events(options.events, options.days, now)
    with Azurite(Path(__file__).resolve().parents[1]) as azurite:
        service = table_service(Settings.from_environment({"CONTROLPLANE_STORAGE": azurite.connection_string}))
        tables = AzureTableDocuments(service, "bench")
        create_tables(tables)
        event_log = Stores.over(tables).event_log
        started = time.perf_counter()
        for envelope in logged:
            event_log.append_events([envelope])
        append_rate = len(logged) / (time.perf_counter() - started)
        event_log.mark_published(logged)
        since = now - timedelta(days=options.days + 1)
        newest = EventQuery(since, now)
        filtered = EventQuery(since, now, environment="env1", types=frozenset({TYPES[1]}))
        actor = EventQuery(since, now, actor=ACTOR_NAME)
        day = EventQuery(since=now - timedelta(days=1), until=now, limit=20)

        def page_through(query: EventQuery) -> int:
            pages, page = 1, event_log.query_events(query)
            while page.next is not None:
                page = event_log.query_events(dataclasses.replace(query, start=page.next))
                pages += 1
            return pages

        figures = {
            "events": options.events,
            "days": options.days,
            "append_events_per_s": round(append_rate, 1),
            "first_page_ms": round(median_ms(options.runs, lambda: event_log.query_events(newest)), 1),
            "filtered_page_ms": round(median_ms(options.runs, lambda: event_log.query_events(filtered)), 1),
            "actor_page_ms": round(median_ms(options.runs, lambda: event_log.query_events(actor)), 1),
            "page_through_a_day_ms": round(median_ms(options.runs, lambda: page_through(day)), 1),
            "pages_in_a_day": page_through(day),
        }
        started = time.perf_counter()
        purged = 0
        while batch := event_log.purge_events(now - timedelta(days=options.days // 2), 500):
            purged += batch
        figures["purge_events_per_s"] = round(purged / (time.perf_counter() - started), 1)
        figures["purged"] = purged

    print(f"Audit query over {options.events} events in {options.days} days on Azurite (medians of {options.runs})")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    for name, value in figures.items():
        print(f"{name:<24} {value:>12}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
