"""The local host's JSON state files (router routes, local compute revisions): read whole, written atomically."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from controlplane.errors import PermanentError


def read_state(path: Path, key: str) -> list[dict[str, Any]]:
    """The list under ``key`` in a JSON state file; empty if there is no file yet."""
    if not path.exists():
        return []
    try:
        return json.loads(path.read_text(encoding="utf-8"))[key]
    except (ValueError, KeyError) as error:
        raise PermanentError(
            f"{path}: unreadable state ({error!r}); repair it, or move it aside to forget it"
        ) from error


def write_json_atomically(path: Path, data: Any) -> None:
    """Write JSON to a sibling temporary file, fsync it and rename it over ``path``: no torn files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
