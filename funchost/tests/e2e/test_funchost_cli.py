"""``python -m funchost start`` serves any v2 function app from its own root, with no app-specific start-up hook:
here the durable test app, from a folder of its own whose host.json names the task hub."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

from azure.data.tables import TableServiceClient

from funchost.azurite import Azurite
from funchost.durable.history import RuntimeStatus
from funchost.durable.store import DurableStore
from funchost.host_process import HostProcess
from funchost.storage.azure_tables import AzureTables
from funchost.tests.e2e.host_process import PROJECT_ROOT as ROOT


def test_the_generic_host_runs_an_orchestration_of_an_app_in_another_root(azurite: Azurite, tmp_path: Path) -> None:
    app_root, state = tmp_path / "app", tmp_path / "state"
    app_root.mkdir()
    hub = f"Generic{uuid.uuid4().hex[:10]}"
    (app_root / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": {"hubName": hub}}}))
    command = [sys.executable, "-m", "funchost", "start", "--root", str(app_root), "--state-dir", str(state)]
    app, python_path = "funchost.tests.apps.durable_app:app", {"PYTHONPATH": str(ROOT)}
    host = HostProcess(command, azurite.connection_string, app, tmp_path, python_path, root=app_root).start()
    try:
        status, started = host.request("POST", "/api/start/chain", 4)
        assert status == 202, started
        deadline = time.monotonic() + 60
        while host.request("GET", f"/api/status/{started['id']}")[1]["runtimeStatus"] != "Completed":
            assert time.monotonic() < deadline, host.log()
            time.sleep(0.05)
    finally:
        host.stop()
    store = DurableStore(AzureTables(TableServiceClient.from_connection_string(azurite.connection_string)), hub)
    record = store.get_instance(started["id"])
    assert (record.status, record.output) == (RuntimeStatus.COMPLETED, "4")
    assert (state / "secrets").is_dir() and not (app_root / ".local").exists()
