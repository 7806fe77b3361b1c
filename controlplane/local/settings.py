"""Local host settings: ``local.settings.json`` Values into the environment, the task hub from host.json."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from pathlib import Path

from controlplane.errors import PermanentError

DEFAULT_HUB = "ControlPlane"


def apply_local_settings(root: Path, environ: MutableMapping[str, str]) -> None:
    """Copy ``Values`` of ``local.settings.json`` into ``environ`` without overriding what is set, as func does."""
    path = root / "local.settings.json"
    if not path.exists():
        return
    try:
        values = json.loads(path.read_text()).get("Values", {})
    except ValueError as error:
        raise PermanentError(f"{path}: not valid JSON ({error})") from error
    for name, value in values.items():
        environ.setdefault(name, str(value))


def task_hub(root: Path) -> str:
    """``extensions.durableTask.hubName`` of host.json (``%SETTING%`` is not resolved here)."""
    path = root / "host.json"
    if not path.exists():
        return DEFAULT_HUB
    hub = json.loads(path.read_text()).get("extensions", {}).get("durableTask", {}).get("hubName")
    return hub or DEFAULT_HUB
