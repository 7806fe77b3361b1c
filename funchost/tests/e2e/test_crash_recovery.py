"""SIGKILL the host at awkward moments; after a restart every instance finishes, nothing is lost."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from azure.data.tables import TableServiceClient

from funchost.azurite import Azurite
from funchost.durable.history import EventType
from funchost.durable.store import DurableStore
from funchost.settings import task_hub
from funchost.storage.azure_tables import AzureTables
from funchost.tests.e2e.host_process import APPS_ROOT, HostProcess


def _log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def _committed_completions(azurite: Azurite, host: HostProcess, instance_id: str) -> set[int]:
    """The completions in the instance's history, in the hub the host's host.json names with its settings."""
    hub = task_hub(APPS_ROOT, host.settings)
    store = DurableStore(AzureTables(TableServiceClient.from_connection_string(azurite.connection_string)), hub)
    events = store.load_history(instance_id).events
    return {e["TaskScheduledId"] for e in events if e["EventType"] == EventType.TASK_COMPLETED}


def test_a_kill_during_an_activity_loses_no_completed_result(
    host: HostProcess, azurite: Azurite, activity_log: Path
) -> None:
    instance_id = host.start_orchestration("slow_chain", {"steps": 6, "seconds": 0.4})["id"]

    def running_after_two_durable_steps() -> bool:
        lines = _log_lines(activity_log)
        started = {line.split()[1] for line in lines if line.startswith("start")}
        finished = {line.split()[1] for line in lines if line.startswith("finish")}
        return len(_committed_completions(azurite, host, instance_id)) >= 2 and bool(started - finished)

    _wait_until(running_after_two_durable_steps)
    host.kill()
    committed = _committed_completions(azurite, host, instance_id)
    assert len(committed) >= 2
    in_flight = {int(line.split()[1]) for line in _log_lines(activity_log) if line.startswith("start")} - committed

    host.start()
    done = host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Completed" and done["output"] == [0, 1, 2, 3, 4, 5]
    finishes = Counter(int(line.split()[1]) for line in _log_lines(activity_log) if line.startswith("finish"))
    for step in committed:
        assert finishes[step] == 1, f"committed step {step} ran again"
    starts = Counter(int(line.split()[1]) for line in _log_lines(activity_log) if line.startswith("start"))
    for step in in_flight:
        assert starts[step] == 2, f"in-flight step {step} was not run again"


def test_a_kill_during_a_timer_still_fires_it_after_restart(host: HostProcess) -> None:
    started = time.monotonic()
    instance_id = host.start_orchestration("sleeper", 2)["id"]
    _wait_until(lambda: host.request("GET", f"/api/status/{instance_id}")[1]["runtimeStatus"] == "Running")
    host.kill()
    host.start()
    done = host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Completed" and done["output"] == "rested"
    assert time.monotonic() - started >= 2


def test_a_kill_while_waiting_for_an_event_keeps_waiting_after_restart(host: HostProcess) -> None:
    instance_id = host.start_orchestration("waiter")["id"]
    _wait_until(lambda: host.request("GET", f"/api/status/{instance_id}")[1]["customStatus"] == "waiting")
    host.kill()
    host.start()
    assert host.request("GET", f"/api/status/{instance_id}")[1]["runtimeStatus"] == "Running"
    assert host.request("POST", f"/api/raise/{instance_id}/go", "after the crash")[0] == 202
    assert host.wait_for(instance_id)["output"] == {"got": '"after the crash"'}  # SDK data, as on Azure


def test_a_kill_during_a_fan_out_completes_every_branch(host: HostProcess) -> None:
    instance_id = host.start_orchestration("fan_out", 300)["id"]
    time.sleep(0.15)
    host.kill()
    host.start()
    done = host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Completed" and done["output"] == sum(range(1, 301))
