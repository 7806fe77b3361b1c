"""The host's own Azurite: detached, recorded, adopted after a crash, flushed by a graceful stop, never a stranger."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from funchost.azurite import Azurite, connection_string, emulator_ports, free_port
from funchost.azurite_record import RECORD, start_or_adopt, stop_and_forget, stop_recorded
from funchost.process_identity import process_start_time

ROOT = Path(__file__).resolve().parents[3]  # where node_modules holds Azurite
DATABASE = "__azurite_db_table__.json"


@pytest.fixture
def ports() -> dict[str, int]:
    return {"table": free_port(), "blob": free_port()}


@pytest.fixture
def location(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "azurite"
    yield data
    stop_recorded(data)  # whatever a failed test left running


def table(ports: dict[str, int]) -> TableServiceClient:
    return TableServiceClient.from_connection_string(connection_string(ports["table"], ports["blob"]))


def pids(azurite: Azurite) -> dict[str, int]:
    return {process.service: process.pid for process in azurite.processes}


def test_a_crashed_starter_leaves_azurite_running_and_the_next_start_adopts_it(
    ports: dict[str, int], location: Path
) -> None:
    first = start_or_adopt(ROOT, location, ports)
    assert first is not None
    assert all(os.getpgid(pid) == pid for pid in pids(first).values()), "each service leads a session of its own"
    assert location.stat().st_mode & 0o777 == 0o700, "the data folder is private"
    assert (location / RECORD).stat().st_mode & 0o777 == 0o600, "so is the record"
    table(ports).create_table_if_not_exists("acked").upsert_entity({"PartitionKey": "p", "RowKey": "r"})
    # The starter "crashes": nothing is stopped. The next start finds the same processes and adopts them.
    second = start_or_adopt(ROOT, location, ports)
    assert second is not None and pids(second) == pids(first)
    assert table(ports).get_table_client("acked").get_entity("p", "r")["RowKey"] == "r"
    stop_and_forget(second)
    assert not (location / RECORD).exists()
    assert all(process_start_time(pid) is None for pid in pids(first).values())


def test_a_graceful_stop_saves_what_azurite_acknowledged(ports: dict[str, int], location: Path) -> None:
    azurite = start_or_adopt(ROOT, location, ports)
    assert azurite is not None
    client = table(ports).create_table_if_not_exists("acked")
    client.upsert_entity({"PartitionKey": "p", "RowKey": "last"})
    stop_and_forget(azurite)  # SIGINT: Azurite closes its LokiJS store, which saves it; SIGTERM would not
    saved = json.loads((location / DATABASE).read_text())
    rows = [row for collection in saved["collections"] for row in collection["data"]]
    assert any(row.get("RowKey") == "last" for row in rows)


def test_a_record_whose_pid_is_another_process_is_stale(ports: dict[str, int], location: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        location.mkdir(parents=True)
        record = {"pid": stranger.pid, "startTime": process_start_time(stranger.pid), "port": ports["table"]}
        services = [{"service": "table", **record}, {"service": "blob", **record, "port": ports["blob"]}]
        (location / RECORD).write_text(json.dumps({"location": str(location), "services": services}))
        azurite = start_or_adopt(ROOT, location, ports)
        assert azurite is not None and stranger.pid not in pids(azurite).values()
        stop_and_forget(azurite)
        assert stranger.poll() is None, "a stale record never gets its pid signalled"
    finally:
        stranger.send_signal(signal.SIGKILL)
        stranger.wait()


def test_a_service_someone_else_serves_is_used_and_never_stopped(ports: dict[str, int], location: Path) -> None:
    with socket.socket() as someone_else:
        someone_else.bind(("127.0.0.1", ports["table"]))
        someone_else.listen()
        azurite = start_or_adopt(ROOT, location, ports)
        assert azurite is not None and set(pids(azurite)) == {"blob"}
        stop_and_forget(azurite)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("UseDevelopmentStorage=true", {"table": 10002, "blob": 10000}),
        (connection_string(4100, 4200), {"table": 4100, "blob": 4200}),
        ("DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=x;EndpointSuffix=core.windows.net", None),
        (connection_string(4100, 4200).replace("127.0.0.1:4200", "storage.example:4200"), None),
    ],
)
def test_the_host_starts_azurite_only_for_the_emulator_on_loopback(setting: str, expected: object) -> None:
    assert emulator_ports(setting) == expected
