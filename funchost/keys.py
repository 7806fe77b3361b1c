"""The local host's keys, kept and checked as the Functions host keeps and checks them.

Kinds (azure-functions-host ``Security/KeyManagement/SecretManager.cs``, ``ScriptConstants.cs``):

| kind | names | what it opens |
|---|---|---|
| master | ``master`` | everything: ``admin``/``function`` routes, every webhook |
| host | ``default`` (and any added) | every ``authLevel function`` route |
| function | ``default`` per function | that function's route when ``authLevel function`` |
| system | ``durabletask_extension`` | ``/runtime/webhooks/durabletask/...`` (what ``statusQueryGetUri`` carries) |

An offered key (the ``x-functions-key`` header; only without that header the ``code`` query parameter,
``AuthenticationLevelHandler.cs``) is identified in the host's order (``GetAuthorizationLevelAsync``):
master (level admin), then system keys (level system), then host keys, then the called function's keys
(level function). A level admin grant opens everything; otherwise the level must equal the one required and,
for a webhook, the key name must be ``<extension>_extension`` (``AuthUtility.PrincipalHasAuthLevelClaim``,
``AuthorizationOptionsExtensions.cs`` policy ``SystemKeyAuthLevel``).

Storage follows the host's file repository (``FileSystemSecretsRepository.cs``, ``ScriptSecretSerializerV1``):

| file (under ``<local dir>/secrets/``, mode 0600) | content |
|---|---|
| ``host.json`` | ``{"masterKey": K, "functionKeys": [K...], "systemKeys": [K...]}`` |
| ``<function name, lower case>.json`` | ``{"keys": [K...]}`` |

with ``K = {"name": ..., "value": ..., "encrypted": false}``. ``host.json`` is generated on first use with a
master key, a ``default`` host key and the ``durabletask_extension`` system key (the host creates an
extension's key when the extension registers its webhook, which the Durable extension always does; a
system key missing from an existing file is added when asked for); a function's file when its key is first
needed. Edit the files to add or rotate keys; they are read again when they change.

Local override: ``FUNCTIONS_HOST_KEY`` (environment, else ``Values`` of local.settings.json) replaces the
value of the ``default`` host key; it is never written to the files.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from funchost.errors import PermanentError
from funchost.private_files import private_directory
from funchost.settings import state_directory

HOST_KEY_SETTING = "FUNCTIONS_HOST_KEY"
SECRETS_DIR = "secrets"
HOST_FILE = "host.json"
DEFAULT_KEY = "default"
MASTER_KEY = "master"
DURABLE_EXTENSION = "durabletask"
ADMIN, SYSTEM, FUNCTION = "admin", "system", "function"
"""Authorization levels of a grant (the host's ``AuthorizationLevel``)."""
_KEY_BYTES = 40


class KeyKind(StrEnum):
    MASTER = "master"
    HOST = "host"
    FUNCTION = "function"
    SYSTEM = "system"


def system_key_name(extension: str) -> str:
    """The system key of an extension's webhook (``DefaultScriptWebHookProvider.GetKeyName``)."""
    return f"{extension}_extension".lower()


@dataclass(frozen=True)
class Grant:
    """What an offered key proved: its level (``admin``, ``system`` or ``function``) and the key's name."""

    level: str
    name: str

    def opens_function(self, auth_level: str) -> bool:
        """Whether an httpTrigger with ``auth_level`` (``function`` or ``admin``) accepts this grant."""
        return self.level == ADMIN or self.level == auth_level

    def opens_webhook(self, extension: str) -> bool:
        """Whether ``/runtime/webhooks/<extension>/`` accepts this grant (key names compare ignoring case)."""
        return self.level == ADMIN or (self.level == SYSTEM and self.name.lower() == system_key_name(extension))


def offered_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The key a request offers: the ``x-functions-key`` header if present (even empty), else ``?code=``."""
    if "x-functions-key" in headers:
        return headers["x-functions-key"]
    return query.get("code", "")


class KeyStore:
    """The keys under one secrets directory; files are created on first use and re-read when changed."""

    def __init__(self, directory: Path, host_key_override: str = "") -> None:
        self.directory = directory
        self._override = host_key_override
        self._cache: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}

    def master_key(self) -> str:
        return self._host_document()["masterKey"]["value"]

    def host_keys(self) -> dict[str, str]:
        keys = _named(self._host_document(), "functionKeys", self.directory / HOST_FILE)
        if self._override:
            keys[DEFAULT_KEY] = self._override
        return keys

    def host_key(self, name: str = DEFAULT_KEY) -> str:
        return _pick(self.host_keys(), name, "host key")

    def system_key(self, name: str = system_key_name(DURABLE_EXTENSION)) -> str:
        """The system key ``name``, created if missing (the host creates an extension's key on demand)."""
        path = self.directory / HOST_FILE
        document = self._host_document()
        keys = _named(document, "systemKeys", path)
        if name not in keys:
            _replace(path, {**document, "systemKeys": [*document.get("systemKeys", []), _new_key(name)]})
            keys = _named(self._host_document(), "systemKeys", path)
        return keys[name]

    def function_keys(self, function: str) -> dict[str, str]:
        """The keys of ``function`` (names compare ignoring case, as function names do), created if missing."""
        path = self.directory / f"{function.lower()}.json"
        return _named(self._document(path, lambda: {"keys": [_new_key(DEFAULT_KEY)]}), "keys", path)

    def function_key(self, function: str, name: str = DEFAULT_KEY) -> str:
        return _pick(self.function_keys(function), name, f"function key of {function!r}")

    def key(self, kind: KeyKind, function: str = "") -> str:
        """The default key of ``kind`` (the ``durabletask_extension`` key for system; ``function`` names one)."""
        if kind is KeyKind.MASTER:
            return self.master_key()
        if kind is KeyKind.SYSTEM:
            return self.system_key()
        if kind is KeyKind.FUNCTION:
            return self.function_key(function)
        return self.host_key()

    def identify(self, offered: str, function: str | None = None) -> Grant | None:
        """The grant ``offered`` proves when calling ``function`` (None: a webhook), or None if no key matches."""
        if not offered:
            return None
        path = self.directory / HOST_FILE
        document = self._host_document()
        if _equal(offered, document["masterKey"]["value"]):
            return Grant(ADMIN, MASTER_KEY)
        for level, keys in (
            (SYSTEM, _named(document, "systemKeys", path)),
            (FUNCTION, self.host_keys()),
            (FUNCTION, self.function_keys(function) if function else {}),
        ):
            for name, value in keys.items():
                if _equal(offered, value):
                    return Grant(level, name)
        return None

    def _host_document(self) -> dict[str, Any]:
        path = self.directory / HOST_FILE
        document = self._document(
            path,
            lambda: {
                "masterKey": _new_key(MASTER_KEY),
                "functionKeys": [_new_key(DEFAULT_KEY)],
                "systemKeys": [_new_key(system_key_name(DURABLE_EXTENSION))],
            },
        )
        master = document.get("masterKey")
        if not isinstance(master, dict) or not isinstance(master.get("value"), str) or not master["value"]:
            raise PermanentError(f'{path}: masterKey: must be an object with a non-empty "value"')
        return document

    def _document(self, path: Path, fresh: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The JSON object at ``path`` (from the cache while unchanged); ``fresh()`` is stored if there is none."""
        try:
            status = path.stat()
        except FileNotFoundError:
            _create(path, fresh())
            status = path.stat()
        stamp = (status.st_ino, status.st_mtime_ns)
        cached = self._cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise PermanentError(f"{path}: not valid JSON ({error}); fix it or remove it") from error
        if not isinstance(document, dict):
            raise PermanentError(f"{path}: must be a JSON object")
        self._cache[path] = (stamp, document)
        return document


def open_key_store(root: Path, environ: Mapping[str, str], state_dir: Path | str | None = None) -> KeyStore:
    """The store under ``<state_dir or root/.local>/secrets`` with the ``FUNCTIONS_HOST_KEY`` override.

    Raises PermanentError naming the file if local.settings.json is not valid JSON.
    """
    directory = state_directory(root, state_dir)
    override = environ.get(HOST_KEY_SETTING, "").strip() or _from_local_settings(root / "local.settings.json")
    return KeyStore(directory / SECRETS_DIR, override)


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


def _named(document: dict[str, Any], field: str, path: Path) -> dict[str, str]:
    """``{name: value}`` of a list of keys; PermanentError naming the file and field if malformed."""
    keys = document.get(field, [])
    if not isinstance(keys, list) or not all(_is_key(key) for key in keys):
        raise PermanentError(f'{path}: {field}: must be a list of {{"name": ..., "value": ...}} with non-empty values')
    return {key["name"]: key["value"] for key in keys}


def _is_key(key: object) -> bool:
    if not isinstance(key, dict):
        return False
    value = key.get("value")
    return isinstance(key.get("name"), str) and isinstance(value, str) and value != ""


def _pick(keys: dict[str, str], name: str, what: str) -> str:
    if name not in keys:
        raise PermanentError(f"no {what} named {name!r} (have: {', '.join(sorted(keys)) or 'none'})")
    return keys[name]


def _equal(offered: str, value: str) -> bool:
    return hmac.compare_digest(offered.encode(), value.encode())


def _new_key(name: str) -> dict[str, Any]:
    return {"name": name, "value": secrets.token_urlsafe(_KEY_BYTES), "encrypted": False}


def _private_temp(path: Path, document: dict[str, Any]) -> Path:
    """``document`` written to a new mode-0600 file beside ``path``."""
    private_directory(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=2)
        file.write("\n")
    return temporary


def _create(path: Path, document: dict[str, Any]) -> None:
    """Store ``document`` at ``path`` unless a file is there already (another process won: its keys stand)."""
    temporary = _private_temp(path, document)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _replace(path: Path, document: dict[str, Any]) -> None:
    os.replace(_private_temp(path, document), path)
