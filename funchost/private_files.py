"""Files only their owner may read: the local state of a host and its app (keys, config values, Azurite's data).

Folders are 0700 and files 0600 whatever the umask, as the Functions host's own secrets repository and an
SSH client's ``~/.ssh`` are: on a shared machine a mode-0644 state file hands every local user the keys and
the release configuration it holds.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """``path`` and each folder missing above it created 0700; ``path`` itself made 0700 if it is ours and
    existed wider (a folder of another user, such as /tmp, is left as it is)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    if path.stat().st_uid == os.getuid():
        os.chmod(path, FOLDER_MODE)  # mkdir's mode is masked by the umask, and an existing folder keeps its own
    return path


def open_private(path: Path, append: bool = False) -> int:
    """A descriptor on ``path`` for writing, created 0600 (an existing file is made 0600 too)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    descriptor = os.open(path, flags, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)
    return descriptor


def write_json_atomically(path: Path, data: Any) -> None:
    """JSON written to a private sibling temporary file, fsynced and renamed over ``path``: never a torn file,
    never readable by others."""
    private_directory(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with os.fdopen(open_private(temporary), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
