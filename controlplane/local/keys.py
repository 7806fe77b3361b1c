"""The local host's key: what ``function`` and ``admin`` HTTP routes require, as a Functions host key would.

Looked up in this order, first non-empty wins:

| source | where |
|---|---|
| environment | ``FUNCTIONS_HOST_KEY`` |
| local.settings.json | ``Values.FUNCTIONS_HOST_KEY`` under the project root |
| key file | ``.local/host-key`` under the project root (mode 0600) |
| generated | 32 random bytes, url-safe; written to the key file so the next start reuses it |
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from controlplane.errors import PermanentError

HOST_KEY_SETTING = "FUNCTIONS_HOST_KEY"
KEY_FILE = Path(".local") / "host-key"
_KEY_BYTES = 32


def resolve_host_key(root: Path, environ: Mapping[str, str]) -> str:
    """The host key for the project at ``root``; generates and stores one on first use.

    Reads ``environ`` and files under ``root`` only; writes nothing unless no key exists anywhere.
    Raises PermanentError naming the file if local.settings.json is not valid JSON.
    """
    key = environ.get(HOST_KEY_SETTING, "").strip()
    if key:
        return key
    key = _from_local_settings(root / "local.settings.json")
    if key:
        return key
    key_file = root / KEY_FILE
    return _read_key_file(key_file) or _create_key_file(key_file)


def _from_local_settings(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as error:
        raise PermanentError(f"{path}: not valid JSON ({error}); fix it or remove it") from error
    values = settings.get("Values") if isinstance(settings, dict) else None
    value = values.get(HOST_KEY_SETTING) if isinstance(values, dict) else None
    return value.strip() if isinstance(value, str) else ""


def _read_key_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def _create_key_file(path: Path) -> str:
    """Write a fresh key with mode 0600; if another process won the race, use the key it wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(_KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing = _read_key_file(path)
        if existing:
            return existing
        # An empty file (a crash between create and write): replace it, keeping it private.
        descriptor = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    return key
