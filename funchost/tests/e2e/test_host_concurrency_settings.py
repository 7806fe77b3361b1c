"""The host process takes its concurrency from where Azure takes it: the worker's thread pool from
the ``PYTHON_THREADPOOL_THREAD_COUNT`` app setting, the Durable throttles from host.json (which it refuses at
start-up, naming the setting, when the extension would: ``DurableTaskOptions.Validate``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from funchost.azurite import Azurite
from funchost.tests.e2e.host_process import PROJECT_ROOT, HostProcess

APP = "funchost.tests.apps.worker_pool_app:app"


def test_up_sizes_the_worker_pool_by_the_app_setting_and_the_throttles_by_host_json(
    azurite: Azurite, tmp_path: Path
) -> None:
    host = HostProcess(azurite.connection_string, APP, tmp_path, {"PYTHON_THREADPOOL_THREAD_COUNT": "3"}).start()
    try:
        log = host.log()
    finally:
        host.stop()
    assert "sync functions run on 3 threads (PYTHON_THREADPOOL_THREAD_COUNT)" in log
    assert "at most 10 activities and 10 orchestrator episodes at once (host.json extensions.durableTask)" in log


def test_up_refuses_a_durable_throttle_below_1_naming_the_setting(tmp_path: Path) -> None:
    durable_task = {"maxConcurrentActivityFunctions": 0}
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": durable_task}}))
    start = (
        "import sys; from pathlib import Path; from funchost.host import HostOptions, run_host; "
        f"sys.exit(run_host(HostOptions(port=0, app={APP!r}, root=Path(sys.argv[1]))))"
    )
    run = subprocess.run(
        [sys.executable, "-c", start, str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert (run.returncode, run.stdout) == (1, "")
    assert (
        "extensions.durableTask.maxConcurrentActivityFunctions: "
        "MaxConcurrentActivityFunctions must be a positive integer value. (got 0)"
    ) in run.stderr
    assert "Traceback" not in run.stderr
