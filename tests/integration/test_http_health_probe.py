"""The HTTP health probe against real sample-workload processes, a refused port and servers that misbehave."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.domain.health import HealthStatus, ProbeFailure
from controlplane.errors import NotFound
from tests.contracts.health_probe import HealthProbeContract
from tests.integration.test_sample_workload import WorkloadProcess, running_workload


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, WorkloadProcess]]:
    """One workload process per health mode, shared by the module's tests (none changes their mode)."""
    log_dir = tmp_path_factory.mktemp("replicas")
    modes = {"healthy": "healthy", "healthy-2": "healthy", "degraded": "degraded", "unhealthy": "unhealthy"}
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(running_workload(log_dir, SAMPLE_HEALTH_MODE=mode, REPLICA=name))
            for name, mode in modes.items()
        }


def _probe_of(*bases: str, timeout: float = 2.0) -> HttpHealthProbe:
    return HttpHealthProbe(lambda environment, service, revision: list(bases), timeout_seconds=timeout)


@contextmanager
def _listening_socket(answer: bool = False) -> Iterator[str]:
    """A port that accepts connections and never answers (or, with ``answer``, closes them unanswered)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        stop = threading.Event()

        def hang_up() -> None:
            listener.settimeout(0.05)
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                connection.recv(4096)
                connection.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        if answer:
            thread.start()
        try:
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            stop.set()
            if answer:
                thread.join(timeout=2)


def _refused_base() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening: refused


def test_healthy_replicas_give_a_healthy_report_with_the_workload_entries(replicas: dict[str, WorkloadProcess]) -> None:
    calls = []

    def resolve(environment: str, service: str, revision: str) -> list[str]:
        calls.append((environment, service, revision))
        return [replicas["healthy"].base, replicas["healthy-2"].base + "/"]

    report = HttpHealthProbe(resolve).probe("dev", "orders", "orders-2", "/health")
    assert calls == [("dev", "orders", "orders-2")]
    assert (report.status, report.http_status, report.failure) == (HealthStatus.HEALTHY, 200, None)
    assert report.passed(allow_degraded=False)
    assert [entry.name for entry in report.entries] == ["self", "dependency"]
    assert report.detail == f"2 replicas (2 Healthy); worst {replicas['healthy'].base}/health"


def test_one_unhealthy_replica_makes_the_revision_unhealthy_with_its_entries(
    replicas: dict[str, WorkloadProcess],
) -> None:
    unhealthy = replicas["unhealthy"].base
    report = _probe_of(replicas["healthy"].base, unhealthy, replicas["degraded"].base).probe("dev", "o", "r", "health")
    assert (report.status, report.http_status, report.failure) == (HealthStatus.UNHEALTHY, 503, None)
    assert [entry.name for entry in report.failing_entries] == ["dependency"]
    assert report.failing_entries[0].status is HealthStatus.UNHEALTHY
    assert f"worst {unhealthy}/health" in (report.detail or "")
    assert "3 replicas (1 Degraded, 1 Healthy, 1 Unhealthy)" in (report.detail or "")
    assert unhealthy in report.summary()


def test_a_degraded_replica_passes_only_where_degraded_is_allowed(replicas: dict[str, WorkloadProcess]) -> None:
    report = _probe_of(replicas["healthy"].base, replicas["degraded"].base).probe("dev", "orders", "r", "/health")
    assert (report.status, report.failure) == (HealthStatus.DEGRADED, None)
    assert report.passed(allow_degraded=True) and not report.passed(allow_degraded=False)
    assert replicas["degraded"].base in (report.detail or "")


def test_a_refused_connection_is_an_unhealthy_report_naming_the_replica(replicas: dict[str, WorkloadProcess]) -> None:
    refused = _refused_base()
    report = _probe_of(replicas["unhealthy"].base, refused).probe("dev", "orders", "r", "/health")
    # A replica that cannot be reached is worse than one that answers Unhealthy.
    assert (report.status, report.failure, report.http_status) == (
        HealthStatus.UNHEALTHY,
        ProbeFailure.CONNECTION_REFUSED,
        None,
    )
    assert f"worst {refused}/health: connection refused" in (report.detail or "")


def test_a_server_that_never_answers_times_out_and_replicas_are_probed_concurrently() -> None:
    with _listening_socket() as first, _listening_socket() as second, _listening_socket() as third:
        began = time.monotonic()
        report = _probe_of(first, second, third, timeout=0.4).probe("dev", "orders", "r", "/health")
        elapsed = time.monotonic() - began
    assert (report.status, report.failure) == (HealthStatus.UNHEALTHY, ProbeFailure.TIMEOUT)
    assert "timed out after 0.4 s" in (report.detail or "") and "3 replicas (3 timeout)" in (report.detail or "")
    assert 0.4 <= elapsed < 1.0, elapsed


def test_a_replica_slower_than_the_timeout_is_a_timeout(tmp_path: Path) -> None:
    with running_workload(tmp_path, SAMPLE_LATENCY_MS="500") as slow:
        report = _probe_of(slow.base, timeout=0.2).probe("dev", "orders", "r", "/health")
    assert (report.status, report.failure) == (HealthStatus.UNHEALTHY, ProbeFailure.TIMEOUT)
    assert report.detail == f"{slow.base}/health: timed out after 0.2 s"


def test_a_connection_closed_without_an_answer_is_a_connection_error() -> None:
    with _listening_socket(answer=True) as rude:
        report = _probe_of(rude).probe("dev", "orders", "r", "/health")
    assert (report.status, report.failure) == (HealthStatus.UNHEALTHY, ProbeFailure.CONNECTION_ERROR)
    assert "without a response" in (report.detail or "")


def test_a_path_that_is_not_a_health_endpoint_is_unhealthy_with_the_reason(
    replicas: dict[str, WorkloadProcess],
) -> None:
    not_a_report = _probe_of(replicas["healthy"].base).probe("dev", "orders", "r", "/")
    missing = _probe_of(replicas["healthy"].base).probe("dev", "orders", "r", "/admin/nothing")
    assert (not_a_report.status, not_a_report.failure, not_a_report.http_status) == (
        HealthStatus.UNHEALTHY,
        ProbeFailure.INVALID_BODY,
        200,
    )
    assert (missing.failure, missing.http_status) == (ProbeFailure.UNEXPECTED_STATUS, 404)


def test_a_revision_without_replicas_is_unhealthy_and_says_so() -> None:
    def unknown(environment: str, service: str, revision: str) -> list[str]:
        raise NotFound(f"no revision {revision}")

    for probe in (_probe_of(), HttpHealthProbe(unknown)):
        report = probe.probe("dev", "orders", "orders-9", "/health")
        assert (report.status, report.failure) == (HealthStatus.UNHEALTHY, ProbeFailure.CONNECTION_ERROR)
        assert "revision orders-9 of orders in dev has no" in (report.detail or "")
        assert not report.passed(allow_degraded=True)


class TestHttpHealthProbeContract(HealthProbeContract):
    @pytest.fixture
    def probe(self, replicas: dict[str, WorkloadProcess]) -> HttpHealthProbe:
        by_revision = {name: [process.base] for name, process in replicas.items()}

        def resolve(environment: str, service: str, revision: str) -> list[str]:
            if revision not in by_revision:
                raise NotFound(f"no revision {revision}")
            return by_revision[revision]

        return HttpHealthProbe(resolve)

    @pytest.fixture
    def revisions(self) -> dict[str, str]:
        return {"Healthy": "healthy", "Degraded": "degraded", "Unhealthy": "unhealthy", "missing": "gone"}
