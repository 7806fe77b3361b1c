"""The host process given the app settings that select the Durable Task Scheduler (as infra/ sets them on the
Function App) runs orchestrations on its own engine, on the task hub the settings name, and says once that it
stands in for the scheduler; an unknown provider refuses start-up, as the Durable extension does."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from funchost.azurite import Azurite
from funchost.tests.e2e.host_process import DURABLE_APP, PROJECT_ROOT, HostProcess

OVERRIDE = "AzureFunctionsJobHost__extensions__durableTask__"
STAND_IN = "the local host stands in for it with its own engine"


def test_an_app_configured_for_the_scheduler_runs_on_the_local_engine_and_says_so_once(
    azurite: Azurite, tmp_path: Path
) -> None:
    hub = f"Dts{uuid.uuid4().hex[:10]}"
    settings = {
        f"{OVERRIDE}storageProvider__type": "azureManaged",
        f"{OVERRIDE}storageProvider__connectionStringName": "DURABLE_TASK_SCHEDULER_CONNECTION_STRING",
        f"{OVERRIDE}hubName": hub,
        "DURABLE_TASK_SCHEDULER_CONNECTION_STRING": "Endpoint=https://cp-dts.westeurope.durabletask.io;"
        "Authentication=ManagedIdentity",
    }
    host = HostProcess(azurite.connection_string, DURABLE_APP, tmp_path, settings).start()
    try:
        done = host.wait_for(host.start_orchestration("chain", 3)["id"])
        log = host.log()
    finally:
        host.stop()
    assert done["runtimeStatus"] == "Completed" and done["output"] == 3
    assert log.count(STAND_IN) == 1
    assert f"selects the Durable Task Scheduler; {STAND_IN} on the app's storage (task hub {hub}," in log


def test_an_unknown_storage_provider_refuses_start_up_naming_the_setting(tmp_path: Path) -> None:
    start = (
        "import sys; from pathlib import Path; from funchost.host import HostOptions, run_host; "
        f"sys.exit(run_host(HostOptions(port=0, app={DURABLE_APP!r}, root=Path(sys.argv[1]))))"
    )
    environment = {**os.environ, f"{OVERRIDE}storageProvider__type": "durableTaskScheduler"}
    run = subprocess.run(
        [sys.executable, "-c", start, str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (run.returncode, run.stdout) == (1, "")
    assert (
        "extensions.durableTask.storageProvider.type: Storage provider type (durableTaskScheduler) was not found."
    ) in run.stderr
    assert "Traceback" not in run.stderr
