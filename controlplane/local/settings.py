"""Local host settings: ``local.settings.json`` Values into the environment, the task hub from host.json."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from controlplane.config import DEVELOPMENT_STORAGE, SCHEDULE_DEFAULTS, STORAGE_SETTINGS
from controlplane.errors import PermanentError

log = logging.getLogger("controlplane.host")

DEFAULT_HUB = "ControlPlane"


def apply_local_settings(root: Path, environ: MutableMapping[str, str]) -> None:
    """Copy ``Values`` of ``local.settings.json`` into ``environ`` without overriding what is set, as func
    does; with no storage configured at all, use the development storage (Azurite); loop schedules not
    set get their defaults."""
    path = root / "local.settings.json"
    if path.exists():
        try:
            values = json.loads(path.read_text()).get("Values", {})
        except ValueError as error:
            raise PermanentError(f"{path}: not valid JSON ({error})") from error
        for name, value in values.items():
            environ.setdefault(name, str(value))
    if not any(environ.get(name) for name in STORAGE_SETTINGS):
        log.info("no storage configured: using the development storage (Azurite)")
        environ["AzureWebJobsStorage"] = DEVELOPMENT_STORAGE
    for name, schedule in SCHEDULE_DEFAULTS.items():
        environ.setdefault(name, schedule)


def task_hub(root: Path, environ: Mapping[str, str]) -> str:
    """The task hub: ``CONTROLPLANE_TASK_HUB`` (local host only: tests give each host its own), else
    ``extensions.durableTask.hubName`` of host.json (``%SETTING%`` is not resolved here)."""
    if environ.get("CONTROLPLANE_TASK_HUB"):
        return environ["CONTROLPLANE_TASK_HUB"]
    path = root / "host.json"
    if not path.exists():
        return DEFAULT_HUB
    hub = json.loads(path.read_text()).get("extensions", {}).get("durableTask", {}).get("hubName")
    return hub or DEFAULT_HUB
