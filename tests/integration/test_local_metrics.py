"""Local metrics over real sample-workload processes run by local compute behind the local router."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controlplane.adapters.local.compute import LocalCompute
from controlplane.adapters.local.image_catalog import ImageCatalog
from controlplane.adapters.local.metrics import LocalMetrics
from controlplane.adapters.local.processes import process_start_time
from controlplane.adapters.local.router import LocalRouter
from controlplane.domain.runtime import MetricKind, MetricReading, RevisionSpec

CATALOG = Path(__file__).resolve().parents[2] / "examples" / "image-catalog.yaml"
ALL = [MetricKind.CPU, MetricKind.QUEUE, MetricKind.RPS]


@dataclass
class Host:
    compute: LocalCompute
    router: LocalRouter
    metrics: LocalMetrics

    def deploy(self, replicas: int, queue_length: int = 7) -> None:
        spec = RevisionSpec(
            environment="dev",
            service="orders",
            revision="orders-v1",
            image="example.azurecr.io/orders:1.0.0",
            replicas=replicas,
            port=8080,
            health_path="/health",
            configuration={"SAMPLE_QUEUE_LENGTH": str(queue_length)},
        )
        self.compute.deploy_revision(spec)
        self.compute.set_traffic("dev", "orders", {"orders-v1": 100})

    def read(self, service: str = "orders") -> dict[MetricKind, MetricReading]:
        return {reading.metric: reading for reading in self.metrics.read("dev", service, ALL)}

    def kill(self, replica: int) -> None:
        pid = self.compute.pids("dev", "orders", "orders-v1")[replica]
        os.killpg(pid, signal.SIGKILL)
        while process_start_time(pid) is not None:  # SIGKILL is delivered asynchronously
            time.sleep(0.01)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    router = LocalRouter(tmp_path / "router.json")
    try:
        compute = LocalCompute(
            tmp_path / "compute", ImageCatalog.load(CATALOG).command_for, router, tmp_path / "compute.json"
        )
        try:
            yield Host(compute, router, LocalMetrics(compute, router, timeout_seconds=1.0))
        finally:
            compute.shutdown()
    finally:
        router.close()


def test_reads_cpu_queue_and_the_routers_rps(host: Host) -> None:
    host.deploy(replicas=2, queue_length=7)
    url = host.router.url("dev", "orders") + "/"
    for _ in range(5):
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200

    readings = host.read()

    assert [r.metric for r in host.metrics.read("dev", "orders", ALL)] == ALL
    assert all(r.error is None for r in readings.values()), readings
    cpu, queue, rps = (readings[kind].value for kind in ALL)
    assert cpu is not None and cpu >= 0
    assert queue == 7
    # The router counts requests over its 10 s window: 5 requests are 0.5 rps.
    assert rps == pytest.approx(5 / 10)


def test_an_unknown_service_reads_none_with_errors(host: Host) -> None:
    host.deploy(replicas=1)

    readings = host.read("payments")

    assert all(r.value is None and r.error for r in readings.values()), readings
    assert "no running replica" in (readings[MetricKind.CPU].error or "")
    assert "dev/payments" in (readings[MetricKind.RPS].error or "")


def test_a_dead_replica_is_left_out_and_all_dead_reads_none(host: Host) -> None:
    host.deploy(replicas=2, queue_length=3)

    host.kill(1)
    survivors = host.read()
    assert survivors[MetricKind.QUEUE].value == 3
    assert survivors[MetricKind.CPU].value is not None

    host.kill(0)
    none_left = host.read()
    assert none_left[MetricKind.CPU].value is None and none_left[MetricKind.CPU].error
    assert none_left[MetricKind.QUEUE].value is None and none_left[MetricKind.QUEUE].error
    assert none_left[MetricKind.RPS].value == 0  # the router still knows the service: no traffic is zero


def test_a_replica_that_does_not_answer_in_time_is_a_failure_not_a_crash(host: Host) -> None:
    host.deploy(replicas=1)
    host.compute.endpoints = lambda *_: ["http://127.0.0.1:9"]  # type: ignore[method-assign]  # discard port

    readings = host.read()

    assert readings[MetricKind.CPU].value is None
    assert "every replica failed" in (readings[MetricKind.CPU].error or "")
