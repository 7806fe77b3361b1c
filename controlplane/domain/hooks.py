"""Rollout webhooks on the wire: the call the orchestrator asks for and the outcome it judges.

The request body a webhook receives (JSON, ``POST``)::

    {"hook": "load-test", "type": "rollout", "deploymentId": "...", "traceId": "...", "release": "shop",
     "environment": "dev", "service": "api", "revision": "api-...", "gate": "canary step 1: ...",
     "metadata": {...}}

Signed (when the webhook names a signing secret) like Stripe's and GitHub's: ``X-ControlPlane-Timestamp`` is the
Unix time of the attempt and ``X-ControlPlane-Signature`` is ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``
keyed with the secret's value; a receiver recomputes it and refuses stale timestamps (replays).
``X-ControlPlane-Delivery`` is the same for every attempt of one call, so a receiver can de-duplicate retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from controlplane.domain.manifest.webhooks import Webhook


@dataclass(frozen=True)
class HookCall:
    """One webhook call: where, how patiently, signed with which app setting, and the body."""

    hook: str
    type: str
    url: str
    delivery: str
    timeout_seconds: int
    retries: int
    signing_setting: str | None
    body: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, webhook: Webhook, delivery: str, body: Mapping[str, Any]) -> HookCall:
        setting = webhook.signing_secret.setting if webhook.signing_secret else None
        full = {"hook": webhook.name, "type": webhook.type, **body, "metadata": dict(webhook.metadata)}
        return cls(
            webhook.name, webhook.type, webhook.url, delivery, webhook.timeout_seconds, webhook.retries, setting, full
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"body": dict(self.body)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HookCall:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


@dataclass(frozen=True)
class HookOutcome:
    """How a call ended: the last HTTP status (None: no answer), attempts made, and why it failed if it did.
    ``succeeded`` is a 2xx answer."""

    status: int | None
    attempts: int
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HookOutcome:
        return cls(data["status"], data["attempts"], data.get("error"))


def shown_url(url: str) -> str:
    """The URL without its query and credentials, as events and logs show it (a query may carry a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# What a call's answer does to the rollout, per webhook type: (on a 2xx, otherwise); the table in
# controlplane.domain.manifest.webhooks says why. RuntimeWebhookCalled carries it as ``effect``.
_EFFECTS: Mapping[str, tuple[str, str]] = {
    "pre-rollout": ("passed", "rolls back"),
    "rollout": ("passed", "rolls back"),
    "confirm-promotion": ("confirms promotion", "holds promotion"),
    "post-rollout": ("recorded", "recorded"),
    "rollback": ("asks for a rollback", "no rollback asked"),
}


def hook_effect(hook_type: str, outcome: HookOutcome) -> str:
    """What ``outcome`` of a ``hook_type`` webhook does: a rollback hook's 2xx *asks* for a rollback, every other
    type's 2xx lets the rollout go on; a post-rollout hook's answer is only recorded. Raises KeyError for a type
    the manifest does not know."""
    on_success, otherwise = _EFFECTS[hook_type]
    return on_success if outcome.succeeded else otherwise
