"""Local compute over real processes of tests/fixtures/tiny_workload.py, behind the real local router."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from controlplane.adapters.local.compute import LocalCompute
from controlplane.adapters.local.processes import process_start_time
from controlplane.adapters.local.router import LocalRouter
from controlplane.domain.manifest.service import ScalingPolicy
from controlplane.domain.runtime import RevisionSpec
from controlplane.errors import PermanentError, TransientError
from tests.contracts.compute import VAULT, ComputeContract, spec

WORKLOAD = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_workload.py"


def command_for(image: str) -> list[str]:
    """``crash:*`` exits before listening, ``silent:*`` never listens, anything else serves."""
    flag = {"crash": ["--crash"], "silent": ["--silent"]}.get(image.split(":")[0], [])
    return [sys.executable, str(WORKLOAD), *flag]


class Host:
    """What one local host would own: a router and a compute over the same state files."""

    def __init__(self, directory: Path, **options: Any) -> None:
        self.router = LocalRouter(directory / "router.json")
        self.compute = LocalCompute(
            directory / "compute", command_for, self.router, directory / "compute.json", **options
        )

    def get(self, url: str) -> tuple[int, dict[str, str], Any]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())

    def hits(self, count: int, preview: bool = False) -> Counter[str]:
        url = self.router.url("dev", "orders", preview=preview) + "/"
        return Counter(self.get(url)[2]["revision"] for _ in range(count))


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[Callable[..., Host]]:
    """Makes hosts over one state directory; afterwards stops everything, even what a test left behind."""
    made: list[Host] = []

    def make(**options: Any) -> Host:
        made.append(Host(tmp_path, **options))
        return made[-1]

    yield make
    errors = []
    for host in reversed(made):
        for stop in (host.compute.shutdown, host.router.close):
            try:
                stop()
            except Exception as error:  # keep cleaning up; report the first failure afterwards
                errors.append(error)
    for pid, start_time in _recorded(tmp_path / "compute.json"):
        if process_start_time(pid) == start_time:
            os.killpg(pid, signal.SIGKILL)
    if errors:
        raise errors[0]


def _recorded(state_file: Path) -> list[tuple[int, int]]:
    if not state_file.exists():
        return []
    revisions = json.loads(state_file.read_text())["revisions"]
    return [(p["pid"], p["startTime"]) for r in revisions for p in r["processes"]]


def _workload_children() -> list[int]:
    """Live (non-zombie) children of this test process running the tiny workload."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and WORKLOAD.name.encode() in cmdline:
            found.append(int(stat.parent.name))
    return found


class TestLocalCompute(ComputeContract):
    @pytest.fixture
    def compute(self, hosts: Callable[..., Host]) -> LocalCompute:
        return hosts(start_timeout=5).compute

    @pytest.fixture
    def failing(self) -> Callable[[RevisionSpec], RevisionSpec]:
        return lambda target: RevisionSpec(**{**target.__dict__, "image": "crash:1"})


def test_weights_20_80_split_50_requests_exactly_10_40(hosts: Callable[..., Host]) -> None:
    host = hosts()
    host.compute.deploy_revision(spec("orders-v1"))
    host.compute.deploy_revision(spec("orders-v2"))
    host.compute.set_traffic("dev", "orders", {"orders-v1": 20, "orders-v2": 80})
    assert host.hits(50) == {"orders-v1": 10, "orders-v2": 40}
    stats = host.router.stats("dev", "orders")
    assert stats["revisions"]["orders-v1"]["requests"] == 10
    assert stats["requests"] == 50 and stats["rps"] > 0


def test_requests_rotate_over_a_revisions_replicas_with_its_name_in_x_revision(hosts: Callable[..., Host]) -> None:
    host = hosts()
    host.compute.deploy_revision(spec(replicas=2))
    host.compute.set_traffic("dev", "orders", {"orders-v1": 100})
    answers = [host.get(host.router.url("dev", "orders") + "/") for _ in range(4)]
    assert [body["replica"] for _, _, body in answers] == [0, 1, 0, 1]
    assert {headers["X-Revision"] for _, headers, _ in answers} == {"orders-v1"}


def test_preview_port_sends_everything_to_the_preview_revision(hosts: Callable[..., Host]) -> None:
    host = hosts()
    host.compute.deploy_revision(spec("blue"))
    host.compute.deploy_revision(spec("green"))
    host.compute.set_traffic("dev", "orders", {"blue": 100})
    host.router.set_preview("dev", "orders", "green")
    assert host.hits(5, preview=True) == {"green": 5}
    assert host.hits(5) == {"blue": 5}
    host.router.set_preview("dev", "orders", None)
    assert host.get(host.router.url("dev", "orders", preview=True) + "/")[0] == 502


def test_no_backend_answers_502_problem_json(hosts: Callable[..., Host]) -> None:
    host = hosts()
    status, headers, body = host.get(host.router.url("dev", "orders") + "/anything")
    assert status == 502 and headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == 502 and "dev/orders" in body["detail"]
    host.compute.deploy_revision(spec("orders-v1"))
    host.compute.set_traffic("dev", "orders", {"orders-v1": 100})
    host.compute.scale("dev", "orders", "orders-v1", 0)
    assert host.get(host.router.url("dev", "orders") + "/")[0] == 502


def test_replicas_get_their_identity_configuration_and_secret_references_only(
    hosts: Callable[..., Host], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTROLPLANE_STORAGE", "host-only-setting")
    host = hosts()
    host.compute.deploy_revision(
        spec(image="reg.io/orders:1.4.2", configuration={"MODE": "fast"}, secret_refs={"DB": f"{VAULT}/db"})
    )
    [url] = host.compute.endpoints("dev", "orders", "orders-v1")
    env = host.get(url + "/env")[2]
    assert env["SERVICE_NAME"] == "orders" and env["SERVICE_VERSION"] == "1.4.2"
    assert (env["REVISION"], env["REPLICA"], env["PORT"]) == ("orders-v1", "0", url.rsplit(":", 1)[1])
    assert env["MODE"] == "fast" and env["DB_SECRET_URI"] == f"{VAULT}/db"
    assert "DB" not in env and "CONTROLPLANE_STORAGE" not in env
    assert (tmp_path / "compute" / "dev" / "orders" / "orders-v1-0.log").exists()


def test_deploying_the_same_spec_again_keeps_the_processes(hosts: Callable[..., Host]) -> None:
    compute = hosts().compute
    compute.deploy_revision(spec(replicas=2))
    pids = compute.pids("dev", "orders", "orders-v1")
    compute.deploy_revision(spec(replicas=2))
    assert compute.pids("dev", "orders", "orders-v1") == pids


def test_a_crashing_start_names_the_revision_and_shows_its_stderr(hosts: Callable[..., Host]) -> None:
    compute = hosts().compute
    with pytest.raises(PermanentError, match=r"(?s)orders-v1.*exited with code 3.*boom: the database"):
        compute.deploy_revision(spec(image="crash:1"))
    assert _workload_children() == []


def test_a_replica_that_never_answers_times_out_and_is_stopped(hosts: Callable[..., Host]) -> None:
    compute = hosts(start_timeout=0.5).compute
    with pytest.raises(PermanentError, match=r"orders-v1: replica 0 did not answer GET / .* within 0.5 s"):
        compute.deploy_revision(spec(image="silent:1"))
    assert _workload_children() == []


def test_a_new_host_adopts_running_replicas_and_keeps_port_and_weights(hosts: Callable[..., Host]) -> None:
    first = hosts()
    first.compute.deploy_revision(spec(replicas=2))
    first.compute.set_traffic("dev", "orders", {"orders-v1": 100})
    pids, port = first.compute.pids("dev", "orders", "orders-v1"), first.router.port("dev", "orders")
    first.router.close()  # the host "crashes": its compute never shuts down

    second = hosts()
    assert second.compute.pids("dev", "orders", "orders-v1") == pids
    assert second.router.port("dev", "orders") == port
    assert second.hits(4) == {"orders-v1": 4}
    assert [w.replicas for w in second.compute.inventory("dev")] == [2]


def test_a_new_host_restarts_a_replica_whose_process_died(hosts: Callable[..., Host]) -> None:
    first = hosts()
    first.compute.deploy_revision(spec(replicas=2))
    old = first.compute.pids("dev", "orders", "orders-v1")
    os.killpg(old[1], signal.SIGKILL)
    while process_start_time(old[1]) is not None:  # SIGKILL is delivered asynchronously
        time.sleep(0.01)
    first.router.close()

    second = hosts()
    new = second.compute.pids("dev", "orders", "orders-v1")
    assert new[0] == old[0] and new[1] != old[1]
    assert len(second.compute.endpoints("dev", "orders", "orders-v1")) == 2


def test_a_new_host_recovers_each_revisions_scaling_policy(hosts: Callable[..., Host], tmp_path: Path) -> None:
    scaling = ScalingPolicy.model_validate(
        {"maxReplicas": 4, "scaleToZero": True, "target": "event-driven", "rules": [{"metric": "queue", "target": 5}]}
    )
    first = hosts()
    first.compute.deploy_revision(replace(spec(), scaling=scaling))
    first.compute.deploy_revision(spec("orders-v2"))
    pids = first.compute.pids("dev", "orders", "orders-v1")
    first.router.close()
    state = json.loads((tmp_path / "compute.json").read_text())
    recorded = {r["spec"]["revision"]: r["spec"]["scaling"] for r in state["revisions"]}
    assert recorded == {"orders-v1": scaling.model_dump(mode="json", by_alias=True), "orders-v2": None}

    second = hosts()
    second.compute.deploy_revision(replace(spec(), scaling=scaling))  # the same spec: nothing restarts
    second.compute.deploy_revision(spec("orders-v2"))
    assert second.compute.pids("dev", "orders", "orders-v1") == pids
    with pytest.raises(PermanentError, match="orders-v1 exists with a different image or configuration"):
        second.compute.deploy_revision(spec())  # the recovered policy is part of the revision


def test_a_new_host_reaps_processes_no_longer_wanted(hosts: Callable[..., Host], tmp_path: Path) -> None:
    first = hosts()
    first.compute.deploy_revision(spec("orders-v1", replicas=2))
    first.compute.deploy_revision(spec("orders-v2"))
    kept, extra = first.compute.pids("dev", "orders", "orders-v1")
    [gone] = first.compute.pids("dev", "orders", "orders-v2")
    first.router.close()
    # As if the host died right after recording a scale-down of v1 and the removal of v2.
    state_file = tmp_path / "compute.json"
    state = json.loads(state_file.read_text())
    for revision in state["revisions"]:
        if revision["spec"]["revision"] == "orders-v1":
            revision["replicas"] = 1
        else:
            revision["removed"] = True
    state_file.write_text(json.dumps(state))

    second = hosts()
    assert second.compute.pids("dev", "orders", "orders-v1") == [kept]
    assert [w.revision for w in second.compute.inventory("dev")] == ["orders-v1"]
    assert process_start_time(extra) is None and process_start_time(gone) is None
    assert set(_workload_children()) == {kept}


def test_shutdown_leaves_no_child_process(hosts: Callable[..., Host]) -> None:
    compute = hosts().compute
    compute.deploy_revision(spec("orders-v1", replicas=2))
    compute.deploy_revision(spec("payments-v1", service="payments"))
    assert len(_workload_children()) == 3
    compute.shutdown()
    assert _workload_children() == []


def test_a_router_whose_stable_port_is_taken_says_so(hosts: Callable[..., Host], tmp_path: Path) -> None:
    port = hosts().router.port("dev", "orders")
    second = LocalRouter(tmp_path / "router.json")
    with pytest.raises(TransientError, match=f"router port 127.0.0.1:{port} of dev/orders is busy"):
        second.start()
    second.close()
