"""Out-of-band edits of local compute, over real processes of the sample workload run through the image catalog.

They stand in for ``kubectl set image`` on our deployment and for a workload someone else started: the
drift loop must see both in ``inventory()``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.adapters.local.compute import LocalCompute
from controlplane.adapters.local.image_catalog import ImageCatalog
from controlplane.adapters.local.out_of_band import (
    DIRECTORY,
    RemoveUnmanaged,
    RunUnmanaged,
    SetImage,
    pending_requests,
    queue_request,
)
from controlplane.adapters.local.processes import process_start_time
from controlplane.adapters.local.router import LocalRouter
from controlplane.cli.main import main
from controlplane.config import APP_ROOT
from controlplane.domain.runtime import LiveWorkload
from controlplane.errors import PermanentError
from tests.contracts.compute import spec

ORDERS = "example.azurecr.io/orders"
CATALOG = ImageCatalog.load(APP_ROOT / "examples" / "image-catalog.yaml")


class Host:
    """A router and a compute over the state files of one local directory, as the local host builds them."""

    def __init__(self, local: Path) -> None:
        self.compute_root = local / "compute"
        self.router = LocalRouter(local / "router.json")
        self.compute = LocalCompute(
            self.compute_root, CATALOG.command_for, self.router, self.compute_root / "state.json", start_timeout=10
        )

    def live(self) -> dict[str, LiveWorkload]:
        return {workload.revision: workload for workload in self.compute.inventory("dev")}

    def queue(self, request: SetImage | RunUnmanaged | RemoveUnmanaged) -> None:
        queue_request(self.compute_root, request)

    def served(self, url: str) -> dict[str, Any]:
        with urllib.request.urlopen(url + "/", timeout=5) as response:
            return json.loads(response.read())


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[Callable[[], Host]]:
    """Makes hosts over one local directory; afterwards stops everything, even what a test left behind."""
    made: list[Host] = []

    def make() -> Host:
        made.append(Host(tmp_path))
        return made[-1]

    yield make
    for host in reversed(made):
        host.compute.shutdown()
        host.router.close()
    state_file = tmp_path / "compute" / "state.json"
    for revision in json.loads(state_file.read_text())["revisions"] if state_file.exists() else []:
        for process in revision["processes"]:
            if process_start_time(process["pid"]) == process["startTime"]:
                os.killpg(process["pid"], signal.SIGKILL)


def running(pids: list[int]) -> bool:
    return any(process_start_time(pid) is not None for pid in pids)


def test_set_image_restarts_the_revision_on_the_new_image_keeping_its_name_traffic_and_config(
    hosts: Callable[[], Host],
) -> None:
    host = hosts()
    host.compute.deploy_revision(spec(image=f"{ORDERS}:1.0.0", replicas=2, configuration={"MODE": "fast"}))
    host.compute.set_traffic("dev", "orders", {"orders-v1": 100})
    before, old_pids = host.live()["orders-v1"], host.compute.pids("dev", "orders", "orders-v1")

    host.queue(SetImage("dev", "orders", "orders-v1", f"{ORDERS}:2.0.0"))
    after = host.live()["orders-v1"]

    assert after.image == f"{ORDERS}:2.0.0"
    assert (after.replicas, after.traffic_percent, after.managed) == (2, 100, True)
    assert after.config_hash == before.config_hash
    assert not running(old_pids)
    answer = host.served(host.router.url("dev", "orders"))
    assert (answer["version"], answer["revision"]) == ("2.0.0", "orders-v1")
    assert pending_requests(host.compute_root) == []


def test_run_unmanaged_is_listed_unmanaged_with_its_replicas_and_gets_no_traffic(hosts: Callable[[], Host]) -> None:
    host = hosts()
    host.compute.deploy_revision(spec(image=f"{ORDERS}:1.0.0"))
    host.compute.set_traffic("dev", "orders", {"orders-v1": 100})

    host.queue(RunUnmanaged("dev", "orders", "orders-debug", f"{ORDERS}:6.6.6", replicas=2))
    debug = host.live()["orders-debug"]

    assert (debug.image, debug.replicas, debug.traffic_percent, debug.managed) == (f"{ORDERS}:6.6.6", 2, 0, False)
    assert host.live()["orders-v1"].managed
    urls = host.compute.endpoints("dev", "orders", "orders-debug")
    assert [host.served(url)["version"] for url in urls] == ["6.6.6", "6.6.6"]
    assert {host.served(host.router.url("dev", "orders"))["revision"] for _ in range(6)} == {"orders-v1"}
    host.compute.set_traffic("dev", "orders", {"orders-v1": 100})  # an unmanaged workload is never in the weights
    with pytest.raises(PermanentError, match=r"orders-debug is a workload the control plane did not create"):
        host.compute.set_traffic("dev", "orders", {"orders-v1": 50, "orders-debug": 50})
    with pytest.raises(PermanentError, match="remove it first"):
        host.compute.deploy_revision(spec("orders-debug", image=f"{ORDERS}:6.6.6", replicas=2))


def test_remove_unmanaged_stops_its_processes_and_forgets_it(hosts: Callable[[], Host]) -> None:
    host = hosts()
    host.queue(RunUnmanaged("dev", "orders", "orders-debug", f"{ORDERS}:6.6.6"))
    assert not host.live()["orders-debug"].managed
    pids = host.compute.pids("dev", "orders", "orders-debug")

    host.queue(RemoveUnmanaged("dev", "orders", "orders-debug"))
    assert host.live() == {}
    assert not running(pids)


def test_remove_revision_prunes_an_unmanaged_workload(hosts: Callable[[], Host]) -> None:
    host = hosts()
    host.queue(RunUnmanaged("dev", "orders", "orders-debug", f"{ORDERS}:6.6.6"))
    host.live()
    pids = host.compute.pids("dev", "orders", "orders-debug")

    host.compute.remove_revision("dev", "orders", "orders-debug")  # the drift loop's prune, once approved
    assert host.live() == {}
    assert not running(pids)


def test_out_of_band_requests_cannot_remove_or_take_over_a_managed_revision(
    hosts: Callable[[], Host], caplog: pytest.LogCaptureFixture
) -> None:
    host = hosts()
    host.compute.deploy_revision(spec(image=f"{ORDERS}:1.0.0"))
    host.queue(RemoveUnmanaged("dev", "orders", "orders-v1"))
    host.queue(RunUnmanaged("dev", "orders", "orders-v1", f"{ORDERS}:6.6.6"))
    with caplog.at_level(logging.ERROR):
        workload = host.live()["orders-v1"]
    assert (workload.image, workload.replicas, workload.managed) == (f"{ORDERS}:1.0.0", 1, True)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2 and all("orders-v1 was deployed by the control plane" in m for m in messages)


def test_a_restarted_compute_adopts_unmanaged_workloads_and_applies_what_was_queued_meanwhile(
    hosts: Callable[[], Host], tmp_path: Path
) -> None:
    first = hosts()
    first.compute.deploy_revision(spec(image=f"{ORDERS}:1.0.0"))
    first.queue(RunUnmanaged("dev", "orders", "orders-debug", f"{ORDERS}:6.6.6"))
    first.live()
    pids = first.compute.pids("dev", "orders", "orders-debug")
    first.router.close()  # the host "crashes": its compute never shuts down
    state = json.loads((tmp_path / "compute" / "state.json").read_text())
    assert {r["spec"]["revision"]: r["managed"] for r in state["revisions"]} == {
        "orders-v1": True,
        "orders-debug": False,
    }
    # Queued by the CLI while no host runs.
    local = ["--local-dir", str(tmp_path)]
    assert main(["compute", "set-image", "dev", "orders", "orders-v1", f"{ORDERS}:2.0.0", *local]) == 0
    assert main(["compute", "run-unmanaged", "dev", "orders", "miner", f"{ORDERS}:0.0.1", *local]) == 0

    second = hosts()
    assert pending_requests(second.compute_root) == []  # applied as the compute started
    assert second.compute.pids("dev", "orders", "orders-debug") == pids
    live = second.live()
    assert {name: (w.image, w.replicas, w.managed) for name, w in live.items()} == {
        "miner": (f"{ORDERS}:0.0.1", 1, False),
        "orders-debug": (f"{ORDERS}:6.6.6", 1, False),
        "orders-v1": (f"{ORDERS}:2.0.0", 1, True),
    }


def test_a_bad_request_is_logged_naming_the_field_and_changes_nothing(
    hosts: Callable[[], Host], caplog: pytest.LogCaptureFixture
) -> None:
    host = hosts()
    host.compute.deploy_revision(spec(image=f"{ORDERS}:1.0.0"))
    pids = host.compute.pids("dev", "orders", "orders-v1")
    directory = host.compute_root / DIRECTORY
    directory.mkdir()
    (directory / "0-hand-written.json").write_text(
        json.dumps({"action": "set-image", "environment": "dev", "service": "orders", "revision": "orders-v1"})
    )
    host.queue(SetImage("dev", "orders", "orders-v1", "example.azurecr.io/unknown:1.0.0"))
    host.queue(SetImage("dev", "orders", "orders-v9", f"{ORDERS}:2.0.0"))

    with caplog.at_level(logging.ERROR):
        workload = host.live()["orders-v1"]

    assert (workload.image, workload.replicas) == (f"{ORDERS}:1.0.0", 1)
    assert host.compute.pids("dev", "orders", "orders-v1") == pids and running(pids)
    messages = [record.getMessage() for record in caplog.records]
    assert "image: required by set-image" in messages[0]
    assert '"example.azurecr.io/unknown:1.0.0" is not in the local image catalog' in messages[1]
    assert "no revision orders-v9" in messages[2]
    assert pending_requests(host.compute_root) == []
