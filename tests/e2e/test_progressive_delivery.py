"""Progressive delivery through the local host on real sample-workload processes: metric analysis on the local
router's per-revision counters, a metric outage that holds instead of deciding, and a two-wave release that
rolls out in dependency order and rolls back whole."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from controlplane.adapters.local.router import routed_url
from controlplane.cli.demo_loops import Load
from tests.e2e.host_process import HostProcess
from tests.e2e.test_deployments_api import deploy, example, settle

ANALYSIS = {
    "provider": {"type": "router"},
    "intervalSeconds": 2,
    "metrics": [
        {"name": "request-success-rate", "builtin": "requestSuccessRate", "threshold": {"min": 0.95}, "count": 2}
    ],
}


def events_of(host: HostProcess, traceid: str) -> list[dict[str, Any]]:
    return host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]


def canary(environment: str, tag: str, **configuration: str) -> dict[str, Any]:
    release = example("v2-canary", environment)
    service = release["spec"]["services"][0]
    service["image"] = f"example.azurecr.io/orders:{tag}"
    service["configuration"].update(configuration)
    return release


def served_by(url: str, requests: int = 6) -> set[str]:
    """The revisions that answered ``requests`` requests to a router URL."""
    served = set()
    for _ in range(requests):
        with urllib.request.urlopen(url, timeout=10) as response:
            served.add(response.headers["X-Revision"])
    return served


def first_release(host: HostProcess, environment: str) -> dict[str, Any]:
    done = settle(host, deploy(host, example("v1-rolling", environment))["deploymentId"])
    assert done["state"] == "Completed", done["transitions"]
    return done


def test_a_healthy_canary_whose_requests_fail_is_rolled_back_by_analysis(product: HostProcess) -> None:
    environment = "pd-analysis"
    stable = first_release(product, environment)["services"]["orders"]["revision"]
    release = canary(environment, "2.0.0", SAMPLE_ERROR_PERCENT="20")
    release["spec"]["analysis"] = copy.deepcopy(ANALYSIS)
    url = routed_url(product.local_dir / "router.json", environment, "orders")
    with Load(url, threads=2):
        accepted = deploy(product, release)
        done = settle(product, accepted["deploymentId"], timeout=120)
    assert done["state"] == "RolledBack", done["transitions"]
    rolling_back = next(t for t in done["transitions"] if t["to"] == "RollingBack")
    assert "request-success-rate" in rolling_back["reason"] and "0.95" in rolling_back["reason"]
    events = events_of(product, accepted["traceId"])
    health = [e["data"] for e in events if e["type"] == "RuntimeHealthGateCompleted"]
    assert health and all(h["verdict"] == "passed" for h in health)  # health alone would have promoted it
    measured = [e["data"] for e in events if e["type"] == "RuntimeAnalysisMeasured"]
    failed = [m for m in measured if m["verdict"] == "failed"]
    assert failed and all(0.7 <= m["value"] <= 0.9 for m in failed), measured
    assert all(m["provider"] == "router" and m["revision"] != stable and m["query"] for m in measured)
    verdicts = [e["data"]["verdict"] for e in events if e["type"] == "RuntimeAnalysisCompleted"]
    assert verdicts[-1] == "failed"
    explanation = done["explanation"]
    assert "request-success-rate" in str(explanation)
    assert served_by(url) == {stable}


class MetricSource:
    """A Prometheus query endpoint on 127.0.0.1 that can be down (503) or answer a success rate."""

    def __init__(self) -> None:
        self.value: float | None = None
        self.queries: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.queries.append(str(form.get("query", "")))
        if self.value is None:
            return web.json_response({"status": "error", "error": "metric store unavailable"}, status=503)
        sample = [time.time(), str(self.value)]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": sample}]}}
        )


@pytest.fixture
def metric_source() -> Iterator[MetricSource]:
    source = MetricSource()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/api/v1/query", source.handle)
        source.runner = web.AppRunner(app)
        await source.runner.setup()
        site = web.TCPSite(source.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        source.url = f"http://127.0.0.1:{port}"
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    yield source
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def wait_for_event(host: HostProcess, traceid: str, kind: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in events_of(host, traceid) if e["type"] == kind]
        if found:
            return found[-1]["data"]
        assert time.monotonic() < deadline, f"no {kind} in {traceid}"
        time.sleep(0.3)


def test_a_metric_outage_holds_the_rollout_until_an_operator_decides(
    product: HostProcess, metric_source: MetricSource
) -> None:
    environment = "pd-outage"
    first_release(product, environment)
    analysis = copy.deepcopy(ANALYSIS)
    analysis["provider"] = {"type": "prometheus", "endpoint": metric_source.url}
    analysis["metrics"][0] = {
        **analysis["metrics"][0],
        "query": 'sum(rate(x{revision="{{ revision }}"}[{{ window }}]))',
    }
    del analysis["metrics"][0]["builtin"]
    releases = []
    for tag in ("2.0.0", "2.0.1"):
        release = canary(environment, tag)
        release["spec"]["analysis"] = analysis
        releases.append(release)

    # Approved: the hold goes on to promotion.
    accepted = deploy(product, releases[0])
    held = wait_for_event(product, accepted["traceId"], "RuntimeAnalysisHeld")
    assert held["actionRequired"] is True and "503" in held["reason"], held
    time.sleep(3)  # held: neither promoted nor rolled back while nobody decides
    detail = product.request("GET", f"/api/deployments/{accepted['deploymentId']}")[1]
    assert detail["state"] in ("RollingOut", "HealthGating"), detail["transitions"]
    assert metric_source.queries and "{{" not in metric_source.queries[0]
    metric_source.value = 0.99  # the source is back, but a held gate waits for the operator regardless
    code, body = product.request(
        "POST", f"/api/deployments/{accepted['deploymentId']}/approve", {"reason": "metrics down, checked logs"}
    )
    assert code == 202, body
    done = settle(product, accepted["deploymentId"], timeout=120)
    assert done["state"] == "Completed", done["transitions"]
    resolved = wait_for_event(product, accepted["traceId"], "RuntimeAnalysisHoldResolved")
    assert (resolved["resolution"], resolved["action"]) == ("approved", "continue")

    # Aborted: the hold rolls back.
    metric_source.value = None
    accepted = deploy(product, releases[1])
    wait_for_event(product, accepted["traceId"], "RuntimeAnalysisHeld")
    code, body = product.request(
        "POST", f"/api/deployments/{accepted['deploymentId']}/abort", {"reason": "no metrics, no release"}
    )
    assert code == 202, body
    done = settle(product, accepted["deploymentId"], timeout=120)
    assert done["state"] == "RolledBack", done["transitions"]


def two_services(environment: str, tag: str) -> dict[str, Any]:
    release = example("v1-rolling", environment)
    release["spec"]["services"] = [
        {"name": "api", "image": f"example.azurecr.io/orders:{tag}", "replicas": 1, "dependsOn": ["db"]},
        {"name": "db", "image": f"example.azurecr.io/payments:{tag}", "replicas": 1},
    ]
    return release


def test_a_two_wave_release_rolls_out_in_dependency_order_and_rolls_back_whole(product: HostProcess) -> None:
    environment = "pd-waves"
    first = settle(product, deploy(product, two_services(environment, "1.0.0"))["deploymentId"])
    assert first["state"] == "Completed", first["transitions"]
    events = events_of(product, first["traceId"])
    waves = [(e["type"], e["data"]["services"], e["data"].get("waitsFor")) for e in events if "Wave" in e["type"]]
    assert waves == [
        ("RuntimeReleaseWaveStarted", ["db"], []),
        ("RuntimeReleaseWaveCompleted", ["db"], None),
        ("RuntimeReleaseWaveStarted", ["api"], ["db"]),
        ("RuntimeReleaseWaveCompleted", ["api"], None),
    ]
    db_gate = max(
        i for i, e in enumerate(events) if e["type"] == "RuntimeHealthGateCompleted" and e["data"]["service"] == "db"
    )
    api_first = min(
        i for i, e in enumerate(events) if e["type"] == "HealthCheckCompleted" and e["data"]["service"] == "api"
    )
    assert db_gate < api_first  # api started only once db passed its gates
    stable_db = first["services"]["db"]["revision"]

    broken = two_services(environment, "2.0.0")
    broken["spec"]["services"][0]["configuration"] = {"SAMPLE_HEALTH_MODE": "unhealthy"}
    done = settle(product, deploy(product, broken)["deploymentId"], timeout=120)
    assert done["state"] == "RolledBack", done["transitions"]
    events = events_of(product, done["traceId"])
    completed = [e["data"] for e in events if e["type"] == "RuntimeReleaseWaveCompleted"]
    assert [(c["services"], c["verdict"]) for c in completed] == [(["db"], "passed"), (["api"], "failed")]
    assert done["services"]["db"]["phase"] == "RolledBack"  # wave 1 had passed: rolled back with the release
    assert served_by(routed_url(product.local_dir / "router.json", environment, "db")) == {stable_db}
