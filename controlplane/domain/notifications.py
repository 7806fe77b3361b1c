"""Notification targets: the webhooks that want events, read from ``CONTROLPLANE_NOTIFICATIONS``, and which of
them want a given event. Pure: the app settings a target's URL comes from are passed in.

The setting is a JSON list; each target is ``{"name", "urlSetting", "format", "environments", "eventTypes"}``:

| key | meaning |
|---|---|
| ``name`` | unique; letters, digits, ``-`` and ``_`` (it keys the at-most-once record of each delivery) |
| ``urlSetting`` | the app setting that holds the webhook URL (a Key Vault reference in Azure): URLs of Teams and |
|  | Slack webhooks carry their secret, so the URL never appears in the JSON, a log or an error |
| ``format`` | ``teams`` (Adaptive Card in the incoming-webhook message), ``slack`` (text + blocks) or ``json`` |
|  | (the CloudEvent itself) |
| ``environments`` | environment names; absent or empty: every environment |
| ``eventTypes`` | a subset of ``NOTIFIABLE``; absent or empty: all of them |

An event is *notifiable* when an operator would want to hear of it: a deployment's outcome, an incident, a
rollout an inconclusive metric analysis holds for an operator (its approval request follows, and says what to
approve; the hold says why), and a drift finding left ``Open`` for an operator's decision (the scan emits
RuntimeDriftDetected for every finding; those policy approved or that repeat a decided one are audit, not news).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope
from controlplane.errors import FieldError, InvalidInput

SETTING = "CONTROLPLANE_NOTIFICATIONS"

NOTIFIABLE = (
    EventType.RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED,
    EventType.RUNTIME_ANALYSIS_HELD,
    EventType.RUNTIME_DEPLOYMENT_COMPLETED,
    EventType.RUNTIME_DEPLOYMENT_ROLLED_BACK,
    EventType.RUNTIME_DEPLOYMENT_FAILED,
    EventType.RUNTIME_INCIDENT_RAISED,
    EventType.RUNTIME_DRIFT_DETECTED,
)
# A drift finding in this status waits for an operator (review-required, or auto-remediable in prod).
FINDING_AWAITING_REVIEW = "Open"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_KEYS = frozenset({"name", "urlSetting", "format", "environments", "eventTypes"})


class InvalidNotifications(InvalidInput):
    what = "notification settings"


class WebhookFormat(StrEnum):
    TEAMS = "teams"
    SLACK = "slack"
    JSON = "json"


@dataclass(frozen=True)
class NotificationTarget:
    """One webhook and the events it wants; ``url`` is a secret, kept out of ``repr``."""

    name: str
    url: str = field(repr=False)
    format: WebhookFormat
    environments: frozenset[str] = frozenset()
    event_types: frozenset[EventType] = frozenset(NOTIFIABLE)

    def wants(self, event_type: EventType, environment: str | None) -> bool:
        """True when the target takes this type from this environment (None: the event names none, so only a
        target for every environment takes it)."""
        if event_type not in self.event_types:
            return False
        return not self.environments or environment in self.environments


def is_notifiable(envelope: Envelope) -> bool:
    """True for the events operators hear of (see the module docstring)."""
    if envelope.event_type not in NOTIFIABLE:
        return False
    if envelope.event_type is EventType.RUNTIME_DRIFT_DETECTED:
        return envelope.data.get("status") == FINDING_AWAITING_REVIEW
    return True


def select_targets(
    targets: Sequence[NotificationTarget], envelope: Envelope, environment: str | None
) -> list[NotificationTarget]:
    """The targets that want ``envelope`` from ``environment``, in configured order."""
    event_type = envelope.event_type
    if event_type is None or not is_notifiable(envelope):
        return []
    return [target for target in targets if target.wants(event_type, environment)]


def parse_targets(text: str | None, setting: Callable[[str], str | None]) -> tuple[NotificationTarget, ...]:
    """The targets of the ``CONTROLPLANE_NOTIFICATIONS`` JSON (None or blank: none); ``setting`` reads an app
    setting by name. InvalidNotifications names every bad field, never a URL."""
    if text is None or not text.strip():
        return ()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidNotifications([FieldError(SETTING, f"not JSON ({error.msg} at character {error.pos})")]) from None
    if not isinstance(document, list):
        raise InvalidNotifications([FieldError(SETTING, "must be a JSON list of targets")])
    errors: list[FieldError] = []
    targets = [_target(f"{SETTING}[{index}]", item, setting, errors) for index, item in enumerate(document)]
    names = [target.name for target in targets if target is not None]
    for index, name in enumerate(names):
        if name in names[:index]:
            errors.append(FieldError(f"{SETTING}[{index}].name", f"{name!r} is used by another target"))
    if errors:
        raise InvalidNotifications(errors)
    return tuple(target for target in targets if target is not None)


def _target(
    path: str, item: Any, setting: Callable[[str], str | None], errors: list[FieldError]
) -> NotificationTarget | None:
    if not isinstance(item, dict):
        errors.append(FieldError(path, "must be an object"))
        return None
    before = len(errors)
    for key in sorted(set(item) - _KEYS):
        errors.append(FieldError(f"{path}.{key}", f"unknown key (known: {', '.join(sorted(_KEYS))})"))
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        errors.append(FieldError(f"{path}.name", f"1-63 letters, digits, '-' or '_' (got {name!r})"))
    url = _url(f"{path}.urlSetting", item.get("urlSetting"), setting, errors)
    kind = item.get("format")
    if not isinstance(kind, str) or kind not in set(WebhookFormat):
        choices = ", ".join(WebhookFormat)
        errors.append(FieldError(f"{path}.format", f"one of {choices} (got {kind!r})"))
    environments = _strings(f"{path}.environments", item.get("environments"), errors)
    types = _strings(f"{path}.eventTypes", item.get("eventTypes"), errors)
    unknown = [name for name in types if name not in set(NOTIFIABLE)]
    if unknown:
        choices = ", ".join(NOTIFIABLE)
        errors.append(FieldError(f"{path}.eventTypes", f"{', '.join(unknown)} not notifiable (choose from {choices})"))
    if len(errors) > before or url is None:
        return None
    return NotificationTarget(
        name=str(name),
        url=url,
        format=WebhookFormat(str(kind)),
        environments=frozenset(environments),
        event_types=frozenset(EventType(name) for name in types) or frozenset(NOTIFIABLE),
    )


def _url(path: str, name: Any, setting: Callable[[str], str | None], errors: list[FieldError]) -> str | None:
    """The URL the named app setting holds: https, or http to this machine (the local host's tests)."""
    if not isinstance(name, str) or not name:
        errors.append(FieldError(path, "the name of the app setting that holds the webhook URL"))
        return None
    url = setting(name)
    if not url:
        errors.append(FieldError(path, f"app setting {name} is not set"))
        return None
    parts = urlsplit(url)
    if (parts.scheme == "https" and parts.hostname) or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return url
    errors.append(FieldError(path, f"app setting {name} must hold an https URL (http only to 127.0.0.1)"))
    return None


def _strings(path: str, value: Any, errors: list[FieldError]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        errors.append(FieldError(path, "must be a list of non-empty strings"))
        return []
    return list(value)


def environment_of(data: Mapping[str, Any]) -> str | None:
    """The environment an event's data names, if any."""
    environment = data.get("environment")
    return environment if isinstance(environment, str) else None


@dataclass(frozen=True)
class WebhookAnswer:
    """How a webhook answered one POST: its HTTP status, or None and why no answer came."""

    status: int | None
    reason: str = ""
    retry_after: float | None = None  # seconds, from a 429's or 503's Retry-After

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """No answer, a timeout, throttling or a server error may pass; any other 4xx will not (a revoked
        webhook answers 403/404 until someone fixes the setting)."""
        return self.status is None or self.status in (408, 429) or self.status >= 500

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.reason})"
        return f"HTTP {self.status}" + (f" {self.reason}" if self.reason else "")


def backoff_delays(attempts: int, base: float, cap: float) -> list[float]:
    """The waits between ``attempts`` tries: doubling from ``base``, each at most ``cap``.

    attempts  base  cap   waits
    3         1.0   8.0   [1.0, 2.0]
    5         1.0   4.0   [1.0, 2.0, 4.0, 4.0]
    1         1.0   8.0   []
    3         0.0   8.0   [0.0, 0.0]      (tests)
    """
    return [min(base * 2**attempt, cap) for attempt in range(attempts - 1)]
