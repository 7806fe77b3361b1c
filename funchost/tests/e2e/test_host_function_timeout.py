"""The host refuses a host.json ``functionTimeout`` the Functions host would not start on,
naming the setting, before it starts anything (``ScriptJobHostOptionsSetup.ValidateTimeoutValue`` in
Azure/azure-functions-host)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from funchost.tests.e2e.host_process import PROJECT_ROOT

APP = "funchost.tests.apps.worker_pool_app:app"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ten minutes", "must be a TimeSpan such as \"00:10:00\", or -1 for no timeout (got 'ten minutes')"),
        (
            "00:00:00.5",
            "FunctionTimeout must be greater than 00:00:01 and less than 10675199.02:48:05.4775807. (got '00:00:00.5')",
        ),
    ],
)
def test_up_refuses_an_invalid_function_timeout_naming_the_setting(tmp_path: Path, value: str, reason: str) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "functionTimeout": value}))
    start = (
        "import sys; from pathlib import Path; from funchost.host import HostOptions, run_host; "
        f"sys.exit(run_host(HostOptions(port=0, app={APP!r}, root=Path(sys.argv[1]))))"
    )
    run = subprocess.run(
        [sys.executable, "-c", start, str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert (run.returncode, run.stdout) == (1, "")
    assert f"functionTimeout: {reason}" in run.stderr
    assert "Traceback" not in run.stderr
