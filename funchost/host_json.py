"""host.json as the Functions host reads it at start-up: one reader for every setting the local host applies,
and the refusal it gives when the host (or an extension) would not start on a value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from funchost.errors import FieldError, InvalidInput


class InvalidHostJson(InvalidInput):
    """host.json holds a value the host or an extension refuses when it starts; each error names its setting."""

    what = "host.json"


def load_host_json(root: Path) -> dict[str, Any]:
    """``root/host.json`` as an object (empty without the file); InvalidHostJson if it is not a JSON object."""
    path = root / "host.json"
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text())
    except ValueError as error:
        raise InvalidHostJson([FieldError("host.json", f"not valid JSON ({error})")]) from error
    if not isinstance(document, dict):
        raise InvalidHostJson([FieldError("host.json", f"must be a JSON object (got {type(document).__name__})")])
    return document


def extension_section(root: Path, extension: str) -> dict[str, Any]:
    """``extensions.<extension>`` of host.json (empty if absent)."""
    return (load_host_json(root).get("extensions") or {}).get(extension) or {}


# App settings named ``AzureFunctionsJobHost__<path>`` override host.json: the host reads its configuration from
# host.json and then from the environment under that prefix, ``__`` separating the levels, keys matched in any
# case (https://learn.microsoft.com/azure/azure-functions/functions-host-json#override-hostjson-values).
OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def overridden_section(root: Path, path: tuple[str, ...], app_settings: Mapping[str, str]) -> dict[str, Any]:
    """The host.json object at ``path`` (``("extensions", "durableTask")``) with the app settings that override
    it applied key by key, as the host's configuration merges them: an override replaces one value and keeps its
    siblings. Keys come back lowercased, since the host matches them in any case; override values are strings."""
    section: Any = load_host_json(root)
    for key in path:
        section = _lowercased(section).get(key.lower()) if isinstance(section, dict) else None
    merged = _lowercased(section) if isinstance(section, dict) else {}
    prefix = [OVERRIDE_PREFIX.removesuffix("__").lower(), *(key.lower() for key in path)]
    for name, value in app_settings.items():
        keys = name.lower().split("__")
        if keys[: len(prefix)] != prefix or len(keys) == len(prefix):
            continue
        target = merged
        for key in keys[len(prefix) : -1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[keys[-1]] = value
    return merged


def _lowercased(section: dict[str, Any]) -> dict[str, Any]:
    return {key.lower(): _lowercased(value) if isinstance(value, dict) else value for key, value in section.items()}
