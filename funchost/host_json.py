"""host.json as the Functions host reads it at start-up: one reader for every setting the local host applies,
and the refusal it gives when the host (or an extension) would not start on a value."""

from __future__ import annotations

import json
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
