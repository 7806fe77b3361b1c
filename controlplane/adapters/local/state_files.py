"""The local host's JSON state files (router routes, local compute revisions): read whole; written whole, privately
and atomically, by ``funchost.private_files.write_json_atomically``."""

from __future__ import annotations

import json
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
