"""Rollout progress: the services of one wave step in parallel, each writing only its own progress."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.domain.deployment import DeploymentState, ServicePhase
from controlplane.domain.rollout import ScaleRevision, SetTraffic
from controlplane.domain.rollout.target import Target, revision_name
from controlplane.services import rollout
from controlplane.testing.counting_documents import CountingDocumentTables
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_documents import MemoryDocumentTables
from tests.builders import ROLLING_OUT_PATH, T0, deployment, walked

SERVICES = ("orders", "payments", "billing")
PERCENTS = (10, 25, 50, 75, 100)


def test_services_stepping_in_parallel_keep_every_change_and_never_retry_a_write() -> None:
    tables, compute = CountingDocumentTables(MemoryDocumentTables()), MemoryCompute()
    create_tables(tables)
    stores = Stores.over(tables)
    stores.deployments.create_deployment(walked(deployment(services=SERVICES), ROLLING_OUT_PATH))
    tables.reset()

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
    assert tables.operations["replace"] == len(SERVICES) * (1 + len(PERCENTS) + 1)
    assert tables.operations["transact"] == 1
