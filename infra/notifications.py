"""The notifier's webhook targets from the stack config: ``notifications``, written into the app settings the app
reads (``CONTROLPLANE_NOTIFICATIONS`` and one app setting per target's URL, controlplane/domain/notifications.py).

A webhook URL of Teams or Slack carries its own secret: whoever has it can post to the channel. So the URL is
never in the stack config, the Pulumi state or an app setting's plain value: each target names a secret of the
platform's Key Vault (``urlSecret``), and its URL app setting is a Key Vault reference that App Service resolves
with the app's identity (which has Key Vault Secrets User on the vault):
``@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<urlSecret>/)``. Without a version the
reference follows the secret's latest version (App Service re-reads it within a day, or on a restart), so a
rotated webhook needs no ``pulumi up``. Store the URL with
``az keyvault secret set --vault-name <vault> --name <urlSecret> --value <webhook URL>``.

| config key | meaning |
|---|---|
| ``name`` | the target's name (letters, digits, ``-``, ``_``; unique), as the app's setting |
| ``format`` | ``teams``, ``slack`` or ``json`` |
| ``urlSecret`` | the Key Vault secret (1-127 letters, digits, ``-``) that holds the webhook URL |
| ``urlSetting`` | the app setting for the URL; default ``CONTROLPLANE_NOTIFY_<NAME>_URL`` |
| ``environments``, ``eventTypes`` | filters, as the app's setting (absent: every environment, every notifiable type) |

A ``url`` key is refused, naming ``urlSecret``: a webhook URL in the config would be in the state and the
setting in plain text. The rest is checked by the app's own parser (``parse_targets``), so a config ``pulumi up``
accepts is one the app accepts.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi

from controlplane.domain.notifications import SETTING, InvalidNotifications, parse_targets

CONFIG_KEY = "notifications"
_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")  # Linux app settings: no '.' or '-'
# App settings infra writes or the platform owns: a target's URL setting must not replace one.
_RESERVED_PREFIXES = ("AzureWebJobs", "APPLICATIONINSIGHTS_", "ServiceBusConnection", "WEBSITE_", "FUNCTIONS_")
_OWN_PREFIX = "CONTROLPLANE_NOTIFY_"
_APP_KEYS = ("name", "format", "environments", "eventTypes")
_KEYS = frozenset({*_APP_KEYS, "urlSecret", "urlSetting"})
_EXAMPLE = '{"name": "ops", "format": "teams", "urlSecret": "ops-teams-webhook"}'


@dataclass(frozen=True)
class NotificationTargetConfig:
    """One webhook target of the stack: what the app's setting says of it, and where its URL is kept."""

    name: str
    format: str
    url_secret: str
    url_setting: str
    environments: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()

    def app_entry(self) -> dict[str, Any]:
        """The target as ``CONTROLPLANE_NOTIFICATIONS`` lists it (the URL by the setting's name only)."""
        entry: dict[str, Any] = {"name": self.name, "urlSetting": self.url_setting, "format": self.format}
        if self.environments:
            entry["environments"] = list(self.environments)
        if self.event_types:
            entry["eventTypes"] = list(self.event_types)
        return entry


def default_url_setting(name: str) -> str:
    """``CONTROLPLANE_NOTIFY_<NAME>_URL``: the name upper-cased, ``-`` as ``_``."""
    return f"{_OWN_PREFIX}{name.upper().replace('-', '_')}_URL"


def notification_targets(raw: Any, problems: list[str]) -> tuple[NotificationTargetConfig, ...]:
    """The ``notifications`` config (None: none) as targets; each problem appended names its key and the fix
    (none are returned while any is found)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{CONFIG_KEY}: a list of targets like [{_EXAMPLE}]")
        return ()
    before = len(problems)
    found = {index: entry for index, item in enumerate(raw) if (entry := _entry(index, item, problems)) is not None}
    seen: set[str] = set()
    for index, (app_entry, _) in found.items():
        if app_entry["urlSetting"] in seen:
            problems.append(f"{CONFIG_KEY}[{index}].urlSetting: {app_entry['urlSetting']} is used by another target")
        seen.add(app_entry["urlSetting"])
    entries = list(found.values())
    if len(problems) > before:
        return ()
    try:  # the app's own checks (name, format, filters), its paths named as the config's
        parse_targets(json.dumps([entry for entry, _ in entries]), lambda _: "https://key-vault-reference.invalid/")
    except InvalidNotifications as invalid:
        problems.extend(f"{CONFIG_KEY}{error.path.removeprefix(SETTING)}: {error.reason}" for error in invalid.errors)
        return ()
    return tuple(
        NotificationTargetConfig(
            name=entry["name"],
            format=entry["format"],
            url_secret=secret,
            url_setting=entry["urlSetting"],
            environments=tuple(entry.get("environments") or ()),
            event_types=tuple(entry.get("eventTypes") or ()),
        )
        for entry, secret in entries
    )


def notification_settings(
    targets: tuple[NotificationTargetConfig, ...], vault_uri: pulumi.Input[str]
) -> dict[str, pulumi.Input[str]]:
    """The app settings of ``targets``: ``CONTROLPLANE_NOTIFICATIONS`` and each URL setting as a Key Vault reference
    to its secret in the vault at ``vault_uri`` (``https://<vault>.vault.azure.net/``). Nothing without targets."""
    if not targets:
        return {}
    found: dict[str, pulumi.Input[str]] = {SETTING: json.dumps([target.app_entry() for target in targets])}
    for target in targets:
        reference = functools.partial(key_vault_reference, secret=target.url_secret)
        found[target.url_setting] = pulumi.Output.from_input(vault_uri).apply(reference)
    return found


def key_vault_reference(vault_uri: str, secret: str) -> str:
    """App Service's Key Vault reference to the latest version of ``secret`` in the vault at ``vault_uri``."""
    return f"@Microsoft.KeyVault(SecretUri={vault_uri.rstrip('/')}/secrets/{secret}/)"


def _entry(index: int, item: Any, problems: list[str]) -> tuple[dict[str, Any], str] | None:
    """The target's entry as the app's setting lists it, and its secret's name; None after a problem."""
    where = f"{CONFIG_KEY}[{index}]"
    if not isinstance(item, dict):
        problems.append(f"{where}: an object like {_EXAMPLE}")
        return None
    before = len(problems)
    if "url" in item:  # the value is never echoed: it is the webhook's secret
        problems.append(f"{where}.url: never in the config; store the URL in the Key Vault and name it with urlSecret")
    for key in sorted(set(item) - _KEYS - {"url"}):
        problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(_KEYS))})")
    secret = item.get("urlSecret")
    if not isinstance(secret, str) or not _SECRET_NAME.match(secret):
        reason = "the Key Vault secret that holds the URL: 1-127 letters, digits or '-'"
        problems.append(f"{where}.urlSecret: {reason} (got {secret!r})")
    name = item.get("name")
    setting = item.get("urlSetting") or (default_url_setting(name) if isinstance(name, str) else "")
    if not isinstance(setting, str) or not _SETTING_NAME.match(setting):
        problems.append(f"{where}.urlSetting: an app setting name of letters, digits and '_' (got {setting!r})")
    elif _reserved(setting):
        problems.append(f"{where}.urlSetting: {setting} is one of the platform's settings; use {_OWN_PREFIX}...")
    if len(problems) > before:
        return None
    entry = {key: item[key] for key in _APP_KEYS if key in item}
    return {**entry, "urlSetting": setting}, str(secret)


def _reserved(setting: str) -> bool:
    """Whether ``setting`` is (or could become) one that infra writes or the platform owns."""
    if setting.startswith("CONTROLPLANE_"):
        return not setting.startswith(_OWN_PREFIX)
    return setting.startswith(_RESERVED_PREFIXES)
