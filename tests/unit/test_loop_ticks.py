"""The monitor and scaling ticks at scale: concurrent, cut at a deadline, a constant few table operations per
service, the in-flight check a point read of the claim, the inventory read once per tick."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.config import InvalidSettings, Settings
from controlplane.domain.audit import EventQuery
from controlplane.domain.event_catalog import EventType
from controlplane.domain.failure import ServiceCondition, Watch
from controlplane.domain.health import HealthReport, HealthStatus
from controlplane.domain.loops import LoopRecord
from controlplane.domain.manifest import parse_release
from controlplane.domain.runtime import LiveWorkload, MetricKind, MetricReading
from controlplane.domain.shards import Shard
from controlplane.ports import LoopStates
from controlplane.services.tick import TickLimits
from controlplane.testing.counting_documents import CountingDocumentTables
from controlplane.testing.fakes import RecordingEventBus, ScriptedHealthProbe
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_documents import MemoryDocumentTables
from tests.builders import release_document
from tests.workflow_world import FAST_GATE, World
from triggers.loops import monitor_over, scaler_over, tick_limits

T = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SERVICES = ("billing", "orders", "payments")
SHORT = TickLimits(concurrency=8, deadline=timedelta(seconds=0.5))


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """bench/loops.py, imported as the script runs (the bench folder is no package)."""
    folder = str(Path(__file__).resolve().parents[2] / "bench")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module("loops")
    finally:
        sys.path.remove(folder)


class HangingProbe(ScriptedHealthProbe):
    """Scripted answers, except that a probe of a revision starting with ``hangs`` waits until ``released``."""

    def __init__(self, hangs: str) -> None:
        super().__init__()
        self.hangs = hangs
        self.released = threading.Event()

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        if revision.startswith(self.hangs):
            self.released.wait()
        return super().probe(environment, service, revision, path)


class HangingMetrics:
    """Metrics at target for every service but ``hangs``, whose read waits until ``released``."""

    def __init__(self, hangs: str) -> None:
        self.hangs = hangs
        self.released = threading.Event()

    def read(self, environment: str, service: str, metrics: Iterable[MetricKind]) -> list[MetricReading]:
        if service == self.hangs:
            self.released.wait()
        return [MetricReading(MetricKind(kind), 50.0) for kind in metrics]


class CountingCompute(MemoryCompute):
    """Memory compute that counts inventory reads."""

    def __init__(self) -> None:
        super().__init__()
        self.inventories = 0

    def inventory(self, environment: str) -> list[LiveWorkload]:
        self.inventories += 1
        return super().inventory(environment)


def seed_services(world: World, tag: str = "1.0.0", services: tuple[str, ...] = SERVICES) -> None:
    document = release_document(services=services, tag=tag)
    document["spec"]["healthGate"] = dict(FAST_GATE)
    for service in document["spec"]["services"]:
        service["scaling"] = {"minReplicas": 1, "maxReplicas": 6, "rules": [{"metric": "cpu", "target": 50}]}
    world.seed_completed(parse_release(document))


def watch_of(world: World, service: str) -> Watch:
    record = world.store.loop_states.get_loop_state("monitor", f"dev/{service}")
    assert record is not None
    return Watch.from_dict(record.body)


EVERY_CHECK = timedelta(0)  # every check reported, not a healthy service's heartbeat only


def checked(world: World) -> list[str]:
    events = [e for e in world.bus.published if e.type == EventType.HEALTH_CHECK_COMPLETED.value]
    world.bus.published.clear()
    return sorted(e.data["service"] for e in events)


@pytest.fixture
def hanging_probe(world: World) -> Iterator[HangingProbe]:
    probe = HangingProbe("payments")
    yield probe
    probe.released.set()  # let the hung thread end


def test_a_hung_probe_is_no_reading_and_every_other_service_is_checked(
    world: World, hanging_probe: HangingProbe
) -> None:
    seed_services(world)
    monitor = monitor_over(
        world.store, world.bus, hanging_probe, "/tests/monitor", timedelta(seconds=30), SHORT, heartbeat=EVERY_CHECK
    )

    assert monitor.tick(T) == []

    assert checked(world) == ["billing", "orders"]
    assert watch_of(world, "payments") == Watch(watch_of(world, "payments").deployment_id)  # as it was: Healthy
    assert not [e for e in world.bus.published if e.type == "RuntimeServiceConditionChanged"]


def test_a_degraded_service_whose_probe_hangs_past_its_threshold_is_not_rolled_back_until_a_check_fails(
    world: World, hanging_probe: HangingProbe
) -> None:
    seed_services(world)
    monitor = monitor_over(
        world.store, world.bus, hanging_probe, "/tests/monitor", timedelta(seconds=30), SHORT, heartbeat=EVERY_CHECK
    )
    hanging_probe.hangs = "nothing"
    hanging_probe.statuses = {"payments": HealthStatus.UNHEALTHY}
    monitor.tick(T)
    assert watch_of(world, "payments").condition is ServiceCondition.DEGRADED

    hanging_probe.hangs = "payments"
    monitor.tick(T + timedelta(seconds=40))  # degraded 40 s > 30 s, but no reading: nothing is decided
    assert watch_of(world, "payments").condition is ServiceCondition.DEGRADED

    hanging_probe.released.set()
    monitor.tick(T + timedelta(seconds=50))  # a failed check past the threshold: nothing to restore -> Incident
    assert watch_of(world, "payments").condition is ServiceCondition.INCIDENT
    assert watch_of(world, "orders").condition is ServiceCondition.HEALTHY


def test_the_monitor_checks_many_services_at_once(world: World) -> None:
    services = tuple(f"svc{n}" for n in range(6))
    seed_services(world, services=services)
    together = threading.Barrier(len(services), timeout=10)  # breaks unless all six are probed at once

    class TogetherProbe(ScriptedHealthProbe):
        def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
            together.wait()
            return super().probe(environment, service, revision, path)

    limits = TickLimits(concurrency=len(services))
    monitor_over(
        world.store, world.bus, TogetherProbe(), "/tests/monitor", timedelta(seconds=30), limits, EVERY_CHECK
    ).tick(T)
    assert checked(world) == list(services)


def test_a_service_with_a_deployment_in_flight_is_neither_probed_nor_scaled(world: World) -> None:
    seed_services(world)
    world.seed_in_flight(parse_release(release_document(services=("orders",), tag="2.0.0")), 50)
    monitor_over(
        world.store, world.bus, world.health, "/tests/monitor", timedelta(seconds=30), heartbeat=EVERY_CHECK
    ).tick(T)
    assert checked(world) == ["billing", "payments"]
    outcomes = scaler_over(world.store, world.bus, world.compute, world.metrics, "/tests/scaling").tick(T)
    assert [o["skipped"] for o in outcomes if o["service"] == "orders"] == ["a deployment is in flight"]


def test_a_scaling_tick_reads_the_inventory_once_and_a_hung_metric_read_skips_only_its_service(
    world: World,
) -> None:
    world.compute = compute = CountingCompute()
    seed_services(world)
    compute.inventories = 0
    metrics = HangingMetrics("payments")
    try:
        outcomes = scaler_over(world.store, world.bus, compute, metrics, "/tests/scaling", SHORT).tick(T)
    finally:
        metrics.released.set()
    by_service = {outcome["service"]: outcome for outcome in outcomes}
    assert by_service["payments"]["skipped"] == "no metric readings by the tick's deadline"
    assert "replicas" in by_service["orders"] and "replicas" in by_service["billing"]
    assert compute.inventories == 1


def test_a_monitor_tick_logs_its_events_before_it_writes_any_watch(world: World) -> None:
    seed_services(world)
    written: list[int] = []  # the checks logged when each watch was written

    class WatchesAfterEvents:
        def __init__(self, stored: LoopStates) -> None:
            self.stored = stored

        def get_loop_state(self, loop: str, key: str) -> LoopRecord | None:
            return self.stored.get_loop_state(loop, key)

        def list_loop_states(self, loop: str, shard: Shard | None = None) -> list[LoopRecord]:
            return self.stored.list_loop_states(loop, shard)

        def put_loop_state(self, record: LoopRecord) -> LoopRecord:
            [stored] = self.put_loop_states([record])
            assert stored is not None
            return stored

        def put_loop_states(self, records: Sequence[LoopRecord]) -> list[LoopRecord | None]:
            logged = world.store.event_log.query_events(EventQuery(since=T, until=T + timedelta(seconds=1)))
            written.extend(
                [sum(e.type == EventType.HEALTH_CHECK_COMPLETED.value for e in logged.events)] * len(records)
            )
            return self.stored.put_loop_states(records)

    store = replace(world.store, loop_states=WatchesAfterEvents(world.store.loop_states))
    monitor_over(store, world.bus, world.health, "/tests/monitor", timedelta(seconds=30), heartbeat=EVERY_CHECK).tick(T)
    assert written == [len(SERVICES)] * len(SERVICES)  # every check logged before the first watch is written
    assert checked(world) == sorted(SERVICES)
    assert world.store.event_log.pending_events(10) == []


def test_a_scaling_tick_reads_every_metric_before_it_stores_any_decision(world: World) -> None:
    seed_services(world)
    stored_at_reads: list[int] = []

    class MetricsBeforeDecisions:
        def read(self, environment: str, service: str, metrics: Iterable[MetricKind]) -> list[MetricReading]:
            stored_at_reads.append(len(world.store.loop_states.list_loop_states("scaling")))
            return [MetricReading(MetricKind(kind), 50.0) for kind in metrics]

    one_at_a_time = TickLimits(concurrency=1)
    outcomes = scaler_over(world.store, world.bus, world.compute, MetricsBeforeDecisions(), "/s", one_at_a_time).tick(T)
    assert stored_at_reads == [0, 0, 0]
    assert all("replicas" in outcome for outcome in outcomes)
    assert len(world.store.loop_states.list_loop_states("scaling")) == len(SERVICES)


def test_a_scaling_tick_writes_its_unchanged_decisions_together_and_a_record_written_meanwhile_wins(
    world: World,
) -> None:
    seed_services(world)
    stored = world.store.loop_states

    class OverlappingEvaluation:
        """Loop states where another evaluation of orders writes its record just before the tick's writes."""

        def __getattr__(self, name: str) -> object:
            return getattr(stored, name)

        def put_loop_states(self, records: Sequence[LoopRecord]) -> list[LoopRecord | None]:
            written.append(len(records))
            stored.put_loop_state(LoopRecord("scaling", "dev/orders", {"by": "the other evaluation"}))
            return stored.put_loop_states(records)

    written: list[int] = []
    store = replace(world.store, loop_states=OverlappingEvaluation())
    outcomes = scaler_over(store, world.bus, world.compute, world.metrics, "/s").tick(T)

    assert written == [len(SERVICES)]  # at target: nothing to apply, every record in one write
    by_service = {outcome["service"]: outcome for outcome in outcomes}
    assert by_service["orders"]["skipped"] == "an overlapping evaluation decided first"
    assert all("replicas" in by_service[name] for name in ("billing", "payments"))
    orders = stored.get_loop_state("scaling", "dev/orders")
    assert orders is not None and dict(orders.body) == {"by": "the other evaluation"}


def tick_costs(bench: ModuleType, services: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(operations, rows read) of a steady monitor tick and of a scaling tick over ``services`` services."""
    tables = CountingDocumentTables(MemoryDocumentTables())
    create_tables(tables)
    stores = Stores.over(tables)
    compute = MemoryCompute()
    bench.seed(stores, compute, services)
    bus = RecordingEventBus()
    monitor = monitor_over(stores, bus, ScriptedHealthProbe(), "/tests/monitor", timedelta(seconds=30))
    scaler = scaler_over(stores, bus, compute, bench.SlowMetrics(0), "/tests/scaling")
    monitor.tick(T)  # the first tick stores each service's watch
    costs = []
    for tick in (lambda: monitor.tick(T + timedelta(seconds=10)), lambda: scaler.tick(T)):
        tables.reset()
        tick()
        costs.append((tables.total, tables.rows_read))
    return costs[0], costs[1]


def test_table_operations_and_rows_read_per_service_are_a_small_constant(bench: ModuleType) -> None:
    few, many = tick_costs(bench, 10), tick_costs(bench, 40)
    for (few_ops, few_rows), (many_ops, many_rows) in zip(few, many, strict=True):
        # 30 more services cost 30 times a constant: no per-service scan of the deployment history.
        assert (many_ops - few_ops) % 30 == 0 and (many_rows - few_rows) % 30 == 0
        assert (many_ops - few_ops) // 30 <= 10 and (many_rows - few_rows) // 30 <= 5


def test_the_bench_reports_the_figures_the_issue_names(bench: ModuleType) -> None:
    with bench.health_server(0) as base:
        probe = bench.HttpHealthProbe(lambda environment, service, revision: [base])
        figures = bench.measure(MemoryDocumentTables(), probe, bench.SlowMetrics(0), 5, TickLimits())
    report = bench.report(figures, 5)
    assert {"monitor_tick_5_s", "scaling_tick_5_s", "table_ops_per_service_tick"} <= set(report)
    assert report["services_covered_per_tick"] == 5


def test_the_loop_settings_have_defaults_and_a_zero_deadline_is_refused() -> None:
    storage = {"CONTROLPLANE_STORAGE": "UseDevelopmentStorage=true"}
    limits = tick_limits(Settings.from_environment(storage))
    assert limits == TickLimits(concurrency=64, deadline=timedelta(seconds=8))
    tuned = {**storage, "CONTROLPLANE_LOOP_CONCURRENCY": "16", "CONTROLPLANE_LOOP_DEADLINE_SECONDS": "4.5"}
    assert tick_limits(Settings.from_environment(tuned)) == TickLimits(16, timedelta(seconds=4.5))
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_environment({**storage, "CONTROLPLANE_LOOP_DEADLINE_SECONDS": "0"})
    assert [error.path for error in refused.value.errors] == ["CONTROLPLANE_LOOP_DEADLINE_SECONDS"]
