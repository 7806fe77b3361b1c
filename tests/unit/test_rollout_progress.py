"""Rollout progress: the services of one wave step in parallel, each writing only its own progress."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from controlplane.adapters.storage.documents import Document, Write
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.domain.deployment import DeploymentState, ServicePhase
from controlplane.domain.rollout import ScaleRevision, SetTraffic
from controlplane.domain.rollout.target import Target, revision_name
from controlplane.services import rollout
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_documents import MemoryDocumentTables
from tests.builders import ROLLING_OUT_PATH, T0, deployment, walked

SERVICES = ("orders", "payments", "billing")


class RecordedWrites(MemoryDocumentTables):
    """Memory tables recording each write asked of the Deployments table (a lost race's attempt included)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def replace(self, table: str, document: Document) -> str:
        self._record(table, [document])
        return super().replace(table, document)

    def insert(self, table: str, document: Document) -> str:
        self._record(table, [document])
        return super().insert(table, document)

    def transact(self, table: str, writes: Sequence[Write]) -> list[str]:
        self._record(table, [write.document for write in writes])
        return super().transact(table, writes)

    def _record(self, table: str, documents: list[Document]) -> None:
        if table == "Deployments":
            self.writes.extend(document.row for document in documents)


PERCENTS = (10, 25, 50, 75, 100)


def test_services_stepping_in_parallel_keep_every_change_and_never_retry_a_write() -> None:
    tables, compute = RecordedWrites(), MemoryCompute()
    create_tables(tables)
    stores = Stores.over(tables)
    stores.deployments.create_deployment(walked(deployment(services=SERVICES), ROLLING_OUT_PATH))
    tables.writes.clear()

    def roll_out(service: str) -> None:
        target = Target(service, revision_name(service, "dep-1"), 2, None, 0, None)
        rollout.apply_step(stores.deployments, compute, "dep-1", target, ScaleRevision("new", 2), T0)
        for number, percent in enumerate(PERCENTS, start=1):
            step = SetTraffic(percent)
            rollout.apply_step(stores.deployments, compute, "dep-1", target, step, T0 + timedelta(seconds=number))
        rollout.record_promotion(stores.deployments, stores.catalog, stores.quarantine, "dep-1", target, T0)

    with ThreadPoolExecutor(max_workers=len(SERVICES) + 1) as pool:
        rollouts = [pool.submit(roll_out, service) for service in SERVICES]
        moved = pool.submit(
            stores.deployments.update_deployment, "dep-1", lambda d: d.advance(DeploymentState.HEALTH_GATING, T0)
        )
        for done in [*rollouts, moved]:
            done.result()
    final = stores.deployments.get_deployment("dep-1")
    assert final.state is DeploymentState.HEALTH_GATING
    for service in SERVICES:
        progress = final.services[service]
        assert (progress.phase, progress.revision, progress.traffic_percent) == (
            ServicePhase.PROMOTED,
            revision_name(service, "dep-1"),
            100,
        )
        assert [point.percent for point in progress.traffic_history] == list(PERCENTS)
    # One write per step, however the threads interleave: no service's write raced another's or the transition's.
    expected = {f"service|{service}": 1 + len(PERCENTS) + 1 for service in SERVICES} | {"deployment": 1}
    assert Counter(tables.writes) == expected
