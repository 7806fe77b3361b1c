"""The local host process for end-to-end tests, with helpers for the durable test app's routes."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from controlplane.cli.project import PROJECT_ROOT as ROOT
from controlplane.cli.project import UP_COMMAND
from funchost.host_process import HostProcess as _HostProcess

KEY = "e2e-test-key"
__all__ = ["KEY", "ROOT", "HostProcess", "product_settings"]


def product_settings(local: Path, **extra: str) -> dict[str, str]:
    """Settings of a product host of its own: its own tables and task hub on the shared Azurite, so its
    control loops never see another test's catalog and its engine never resumes another test's instances."""
    suffix = uuid.uuid4().hex[:10]
    return {
        "CONTROLPLANE_LOCAL_DIR": str(local),
        "CONTROLPLANE_TABLE_PREFIX": f"p{suffix}",
        "CONTROLPLANE_TASK_HUB": f"Hub{suffix}",
        **extra,
    }


class HostProcess(_HostProcess):
    def __init__(self, storage: str, app: str, log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        local_dir = (extra_env or {}).get("CONTROLPLANE_LOCAL_DIR")
        state_dir = Path(local_dir) if local_dir else None
        super().__init__(UP_COMMAND, storage, app, log_dir, extra_env, key=KEY, root=ROOT, state_dir=state_dir)

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
