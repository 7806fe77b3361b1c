"""The local host process for end-to-end tests: ``python -m funchost start`` on the test apps' own root
(funchost/tests/apps, with its own host.json), each host isolated on the shared Azurite; with helpers for the
routes of the durable test app (funchost/tests/apps/durable_app.py)."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from funchost.host_process import HostProcess as _HostProcess
from funchost.settings import HOST_ID, host_table_prefix

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # where the funchost package is imported from
APPS_ROOT = PROJECT_ROOT / "funchost" / "tests" / "apps"  # the apps' root: their host.json
START_COMMAND = (sys.executable, "-m", "funchost", "start", "--root", str(APPS_ROOT))
TASK_HUB = "TEST_TASK_HUB"  # the app setting that APPS_ROOT/host.json's hubName names
KEY = "e2e-test-key"
DURABLE_APP = "funchost.tests.apps.durable_app:app"
__all__ = ["APPS_ROOT", "DURABLE_APP", "KEY", "PROJECT_ROOT", "TASK_HUB", "HostProcess"]


def isolated_settings() -> dict[str, str]:
    """A task hub and a host id of its own (so tables of its own for the Service Bus emulator and the timers) on
    the shared Azurite: the host never sees another test's messages or timer status, and its engine never
    resumes another test's instances."""
    suffix = uuid.uuid4().hex[:10]
    return {TASK_HUB: f"Hub{suffix}", HOST_ID: f"e2e-{suffix}"}


class DurableAppRoutes(_HostProcess):
    """A host process serving the durable test app (apps/durable_app.py): start an orchestration through its
    HTTP starter and wait for its status route."""

    def start_orchestration(self, name: str, value: Any = None, instance_id: str | None = None) -> dict[str, Any]:
        path = f"/api/start/{name}" + (f"/{instance_id}" if instance_id else "")
        status, body = self.request("POST", path, value)
        assert status == 202, body
        return body

    def wait_for(self, instance_id: str, timeout: float = 60, statuses=("Completed", "Failed", "Terminated")) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            code, body = self.request("GET", f"/api/status/{instance_id}")
            if code == 200 and body.get("runtimeStatus") in statuses:
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"{instance_id}: {body}")
            time.sleep(0.05)


class HostProcess(DurableAppRoutes):
    """One isolated host of ``app`` (its settings on top of ``isolated_settings()``), its keys under ``log_dir``;
    the same hub, host id and keys across restarts."""

    def __init__(self, storage: str, app: str, log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        state_dir = log_dir / "state"
        python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        settings = {"PYTHONPATH": python_path, **isolated_settings(), **(extra_env or {})}
        command = (*START_COMMAND, "--state-dir", str(state_dir))
        super().__init__(command, storage, app, log_dir, settings, key=KEY, root=APPS_ROOT, state_dir=state_dir)

    @property
    def task_hub(self) -> str:
        return self.settings[TASK_HUB]

    @property
    def table_prefix(self) -> str:
        """The prefix of this host's emulator and timer tables (its host id's)."""
        return host_table_prefix(self.settings)
