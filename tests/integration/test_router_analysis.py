"""RouterAnalysis over the real local router in front of real sample-workload processes (local compute).

One world for the module: service ``api`` splits traffic 50/50 between the stable ``api-v1`` (no errors) and
the new ``api-v2`` (``SAMPLE_ERROR_PERCENT=20``, ``SAMPLE_LATENCY_MS=50``: Healthy while a fifth of its
requests fail); ``api-v3`` is deployed with no traffic; ``broken`` has a revision whose only replica refuses
connections, asked 3 times on the main port and once on the preview port. 40 requests to ``api`` go 20 to
each revision (smooth weighted round-robin is exact), and the sample workload fails exactly requests 5, 10,
15 and 20 of ``api-v2``. Windows are 600 s so that a slow machine cannot push the traffic out of them.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from controlplane.adapters.local.analysis import RouterAnalysis
from controlplane.adapters.local.compute import LocalCompute
from controlplane.adapters.local.image_catalog import ImageCatalog
from controlplane.adapters.local.loopback import free_port
from controlplane.adapters.local.router import LocalRouter
from controlplane.domain.analysis import MetricQuery
from controlplane.domain.runtime import RevisionSpec
from tests.contracts.analysis_provider import AnalysisProviderContract, Arranged

CATALOG = Path(__file__).resolve().parents[2] / "examples" / "image-catalog.yaml"
WINDOW = 600
SUCCESS = MetricQuery("success", "router", None, "dev", "api", "api-v2", WINDOW, builtin="requestSuccessRate")


@dataclass
class World:
    router: LocalRouter
    served: Counter[tuple[str, int]]  # (revision, status) of every answer the clients got


def get(url: str) -> tuple[str, int]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.headers["X-Revision"], response.status
    except urllib.error.HTTPError as error:
        return error.headers["X-Revision"], error.code


def deploy(compute: LocalCompute, revision: str, **configuration: str) -> None:
    compute.deploy_revision(
        RevisionSpec(
            environment="dev",
            service="api",
            revision=revision,
            image="example.azurecr.io/orders:1.0.0",
            replicas=1,
            port=8080,
            health_path="/health",
            configuration=configuration,
        )
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("router-analysis")
    router = LocalRouter(directory / "router.json")
    try:
        compute = LocalCompute(
            directory / "compute", ImageCatalog.load(CATALOG).command_for, router, directory / "compute.json"
        )
        try:
            deploy(compute, "api-v1")
            deploy(compute, "api-v2", SAMPLE_ERROR_PERCENT="20", SAMPLE_LATENCY_MS="50")
            deploy(compute, "api-v3")
            compute.set_traffic("dev", "api", {"api-v1": 50, "api-v2": 50})
            router.set_backends("dev", "broken", "broken-v1", [f"http://127.0.0.1:{free_port()}"])  # nothing listens
            router.set_weights("dev", "broken", {"broken-v1": 100})
            router.set_preview("dev", "broken", "broken-v1")
            served: Counter[tuple[str, int]] = Counter()
            for _ in range(40):
                served[get(router.url("dev", "api") + "/orders")] += 1
            for _ in range(3):
                served[get(router.url("dev", "broken") + "/")] += 1
            served[get(router.url("dev", "broken", preview=True) + "/")] += 1
            yield World(router, served)
        finally:
            compute.shutdown()
    finally:
        router.close()


class TestRouterAnalysisContract(AnalysisProviderContract):
    @pytest.fixture
    def analysis(self, world: World) -> RouterAnalysis:
        return RouterAnalysis(world.router)

    @pytest.fixture
    def arranged(self) -> Arranged:
        return Arranged(
            measured={
                SUCCESS: 0.8,
                replace(SUCCESS, revision="api-v1"): 1.0,
                replace(SUCCESS, service="broken", revision="broken-v1"): 0.0,  # a true 0 is data
            },
            no_data=[replace(SUCCESS, revision="api-v3"), replace(SUCCESS, service="payments", revision="payments-v1")],
        )


def test_the_traffic_was_split_as_arranged(world: World) -> None:
    assert world.served == {("api-v1", 200): 20, ("api-v2", 200): 16, ("api-v2", 500): 4, ("broken-v1", 502): 4}


def test_the_success_rate_is_the_new_revisions_only_while_traffic_is_split(world: World) -> None:
    analysis = RouterAnalysis(world.router)

    new = analysis.measure(SUCCESS)
    stable = analysis.measure(replace(SUCCESS, revision="api-v1"))

    assert (new.value, new.samples, new.error) == (pytest.approx(0.8), 20, None)
    assert (stable.value, stable.samples, stable.error) == (1.0, 20, None)
    assert new.query == f"router dev/api: 1 - 5xx/requests of revision api-v2 over {WINDOW}s"


def test_the_latency_percentile_is_the_new_revisions_only(world: World) -> None:
    analysis = RouterAnalysis(world.router)
    latency = replace(SUCCESS, metric="latency", builtin="requestLatency", percentile=5.0)

    new = analysis.measure(latency)
    stable = analysis.measure(replace(latency, revision="api-v1"))

    # Every api-v2 request sleeps 50 ms in the app, so even its fastest (p5) took that long through the router.
    assert new.samples == 20 and new.value is not None and new.value >= 50, new
    assert stable.samples == 20 and stable.value is not None, stable
    assert "p5 (nearest rank)" in new.query


def test_the_routers_own_502s_are_errors_of_the_revision_on_both_ports(world: World) -> None:
    measurement = RouterAnalysis(world.router).measure(replace(SUCCESS, service="broken", revision="broken-v1"))
    assert (measurement.value, measurement.samples) == (0.0, 4)


def test_a_revision_without_traffic_is_inconclusive_never_a_success(world: World) -> None:
    measurement = RouterAnalysis(world.router).measure(replace(SUCCESS, revision="api-v3"))
    assert measurement.value is None and measurement.samples == 0
    assert measurement.error == f"no traffic to api-v3 in the last {WINDOW}s"


def test_the_stats_of_the_service_are_unchanged(world: World) -> None:
    stats = world.router.stats("dev", "api")
    assert stats["requests"] == 40
    assert {name: (item["requests"], item["errors"]) for name, item in stats["revisions"].items()} == {
        "api-v1": (20, 0),
        "api-v2": (20, 4),
    }
