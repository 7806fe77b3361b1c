"""The local host process for end-to-end tests, with helpers for the durable test app's routes."""

from __future__ import annotations

import uuid
from pathlib import Path

from controlplane.cli.project import UP_COMMAND
from controlplane.config import APP_ROOT as ROOT
from controlplane.domain.access import Role
from funchost.tests.e2e.host_process import DurableAppRoutes

KEY = "e2e-test-key"
PRODUCT_APP = "function_app:app"
OPERATOR = "e2e-operator"
"""The caller of the tests' requests: every app role (``HostProcess.caller_token``)."""
ALL_ROLES = tuple(role.value for role in Role)
__all__ = ["ALL_ROLES", "KEY", "OPERATOR", "ROOT", "HostProcess", "product_settings"]


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


class HostProcess(DurableAppRoutes):
    """The product's host (``python -m controlplane up``) on a free port, its keys under ``CONTROLPLANE_LOCAL_DIR``;
    its requests are the operator's (``OPERATOR``, every app role) unless a test sends another token."""

    def __init__(self, storage: str, app: str, log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        local_dir = (extra_env or {}).get("CONTROLPLANE_LOCAL_DIR")
        state_dir = Path(local_dir) if local_dir else None
        super().__init__(UP_COMMAND, storage, app, log_dir, extra_env, key=KEY, root=ROOT, state_dir=state_dir)

    def start(self, timeout: float = 60) -> HostProcess:
        super().start(timeout)
        if self._app == PRODUCT_APP:  # a test app of the host's keeps its function keys
            self.caller_token = self.bearer_token(OPERATOR, ALL_ROLES)
        return self
