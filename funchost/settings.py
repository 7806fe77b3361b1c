"""Local host settings: ``local.settings.json`` Values into the environment; the task hub and the Durable
options from host.json; the host id that scopes the host's own tables."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from funchost.errors import FieldError, PermanentError
from funchost.function_timeout import (
    DEFAULT_FUNCTION_TIMEOUT,
    MIN_FUNCTION_TIMEOUT,
    TIMESPAN_MAX_VALUE,
    UNBOUNDED,
    timespan_text,
)
from funchost.host_json import InvalidHostJson, extension_section, load_host_json, overridden_section
from funchost.name_resolver import resolve_whole_string
from funchost.storage.account import DEVELOPMENT_STORAGE, STORAGE, TABLE_SERVICE_URI
from funchost.timespan import parse_timespan_setting

log = logging.getLogger("funchost.host")

# The Durable extension's hub name when host.json names none and the app runs outside App Service (no
# WEBSITE_SITE_NAME): ``AzureStorageOptions``/``DurableTaskOptions`` default, Azure/azure-functions-durable-extension.
DEFAULT_HUB = "TestHubName"
# What the Durable extension logs when host.json enables extended sessions for a worker that is not .NET,
# before it sets them to false (``DurableTaskOptions.Validate``, Azure/azure-functions-durable-extension).
EXTENDED_SESSIONS_WARNING = (
    "Durable Functions does not work with extendedSessions = true for non-.NET languages. This value is being "
    "set to false instead. See https://docs.microsoft.com/en-us/azure/azure-functions/durable/"
    "durable-functions-perf-and-scale#extended-sessions for more details."
)


def state_directory(root: Path, state_dir: Path | str | None = None) -> Path:
    """Where the host keeps its own state (keys, the Easy Auth secret, Azurite's data): ``state_dir``, or
    ``root/.local``."""
    return Path(state_dir) if state_dir else root / ".local"


def apply_local_settings(root: Path, environ: MutableMapping[str, str]) -> None:
    """Copy ``Values`` of ``local.settings.json`` into ``environ`` without overriding what is set, as func
    does; with no storage configured at all (``AzureWebJobsStorage``), use the development storage (Azurite)."""
    path = root / "local.settings.json"
    if path.exists():
        try:
            values = json.loads(path.read_text()).get("Values", {})
        except ValueError as error:
            raise PermanentError(f"{path}: not valid JSON ({error})") from error
        for name, value in values.items():
            environ.setdefault(name, str(value))
    if not any(environ.get(name) for name in (STORAGE, TABLE_SERVICE_URI)):
        log.info("no storage configured: using the development storage (Azurite)")
        environ[STORAGE] = DEVELOPMENT_STORAGE


# What the Azure Storage provider accepts as a task hub name: a valid table, blob container and queue name
# (letters and digits, a letter first) of at most 50 characters (``AzureStorageOptions.ValidateHubName``).
_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,49}")


def task_hub(root: Path, app_settings: Mapping[str, str]) -> str:
    """The task hub: ``extensions.durableTask.hubName`` of host.json, its ``%SETTING%`` references resolved from
    ``app_settings`` as the Durable extension resolves them (``DurableTaskExtension``'s
    ``nameResolver.TryResolveWholeString(Options.HubName)``, Azure/azure-functions-durable-extension: every
    ``%NAME%`` through the host's name resolver, ``funchost.name_resolver``; when one does not resolve the name
    stays as written). The app setting ``AzureFunctionsJobHost__extensions__durableTask__hubName`` overrides
    host.json's (``host_json.overridden_section``). InvalidHostJson with the extension's message when the result is
    not a name the Azure Storage provider accepts (``AzureStorageOptions.ValidateHubName``, which refuses it at
    start-up)."""
    configured = overridden_section(root, ("extensions", "durableTask"), app_settings).get("hubname")
    if not configured:
        return DEFAULT_HUB
    try:
        hub = resolve_whole_string(str(configured), app_settings)
    except ValueError:
        hub = str(configured)
    if not _HUB_NAME.fullmatch(hub):
        reason = (
            f"Task hub name '{hub}' should contain only alphanumeric characters, start with a letter, and have "
            "length between 3 and 45."
        )
        raise InvalidHostJson([FieldError("extensions.durableTask.hubName", reason)])
    return hub


# Azure's app setting naming the host id (``AzureFunctionsWebHost:hostId``), which Azure derives from the app's
# name when it is not set: at most 32 lowercase letters, digits and dashes, a letter or digit at each end.
HOST_ID = "AzureFunctionsWebHost__hostid"
_HOST_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")


def host_table_prefix(app_settings: Mapping[str, str]) -> str:
    """The prefix of the Service Bus emulator's and the timers' tables when the host is given none: its host id.

    Azure keeps per-app trigger state under the host id (timer status in ``timer-status/<host id>/...``), so two
    apps on one storage account never share it; the local host keeps that state in tables, and scopes them the
    same way. Table names take letters and digits only, so the id's dashes are dropped (and a ``t`` goes before
    an id that starts with a digit, as table names start with a letter). No host id: no prefix. PermanentError
    when the setting is not a host id Azure accepts."""
    host_id = next((value for name, value in app_settings.items() if name.lower() == HOST_ID.lower()), "")
    if not host_id:
        return ""
    if not _HOST_ID.fullmatch(host_id):
        raise PermanentError(f"{HOST_ID}: a host id is 1-32 lowercase letters, digits and dashes (got {host_id!r})")
    prefix = host_id.replace("-", "")
    return f"t{prefix}" if prefix[:1].isdigit() else prefix


def ignore_extended_sessions(root: Path) -> None:
    """Python orchestrators always replay in full on Azure: when host.json enables
    ``extendedSessionsEnabled``, log the extension's warning; the engine has no extended sessions."""
    enabled = durable_task_options(root).get("extendedSessionsEnabled")
    if str(enabled).lower() == "true":  # host.json values bind case-insensitively, as a bool or a string
        log.warning(EXTENDED_SESSIONS_WARNING)


@dataclass(frozen=True)
class DurableConcurrency:
    """How many activity functions and orchestrator episodes the Durable extension runs at once on one instance:
    host.json's ``maxConcurrentActivityFunctions`` and ``maxConcurrentOrchestratorFunctions`` (DTFx's
    ``MaxConcurrentTaskActivityWorkItems`` and ``MaxConcurrentTaskOrchestrationWorkItems``).

    Unset, the extension gives 10 and 5 on the Consumption plans and 10 times the processor count on the others
    (``AzureStorageDurabilityProviderFactory``, Azure/azure-functions-durable-extension); the local host takes
    the Consumption figures, the lower ones (the app runs on Flex Consumption).
    """

    activities: int = 10
    orchestrators: int = 5

    @classmethod
    def from_host_json(cls, root: Path) -> DurableConcurrency:
        """The throttles of ``root/host.json``; InvalidHostJson naming each setting that is not a positive integer
        (the extension refuses those when the host starts, ``DurableTaskOptions.Validate``, in its words)."""
        options = durable_task_options(root)
        values: dict[str, int] = {}
        errors = []
        for field, setting in _THROTTLES.items():
            value = options.get(setting)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                message = f"{setting[0].upper()}{setting[1:]} must be a positive integer value. (got {value!r})"
                errors.append(FieldError(f"extensions.durableTask.{setting}", message))
            else:
                values[field] = value
        if errors:
            raise InvalidHostJson(errors)
        return cls(**values)


_THROTTLES = {"activities": "maxConcurrentActivityFunctions", "orchestrators": "maxConcurrentOrchestratorFunctions"}


def function_timeout(root: Path) -> timedelta | None:
    """host.json's ``functionTimeout`` under Flex Consumption's rules (``funchost.function_timeout``):
    30 minutes when unset, None (no timeout) for ``-1``. InvalidHostJson naming the setting when the host would
    not start on it: not a TimeSpan as the configuration binder reads one (``TimeSpan.Parse``; a JSON number as
    its text, so ``5`` is five days), or below one second (``ScriptJobHostOptionsSetup.ValidateTimeoutValue``,
    whose message this gives)."""
    value = load_host_json(root).get("functionTimeout")
    if value is None:
        return DEFAULT_FUNCTION_TIMEOUT
    parsed = parse_timespan_setting(value)
    if parsed is None:
        reason = f'must be a TimeSpan such as "00:10:00", or -1 for no timeout (got {value!r})'
        raise InvalidHostJson([FieldError("functionTimeout", reason)])
    if parsed == UNBOUNDED:
        return None
    if parsed < MIN_FUNCTION_TIMEOUT:
        reason = (
            f"FunctionTimeout must be greater than {timespan_text(MIN_FUNCTION_TIMEOUT)} and less than "
            f"{TIMESPAN_MAX_VALUE}. (got {value!r})"
        )
        raise InvalidHostJson([FieldError("functionTimeout", reason)])
    return parsed


def durable_task_options(root: Path) -> dict[str, Any]:
    """``extensions.durableTask`` of host.json (empty without host.json)."""
    return extension_section(root, "durableTask")
