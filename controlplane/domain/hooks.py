"""Rollout webhooks on the wire: the call the orchestrator asks for and the outcome it judges.

The request body a webhook receives (JSON, ``POST``)::

    {"hook": "load-test", "type": "rollout", "deploymentId": "...", "traceId": "...", "release": "shop",
     "environment": "dev", "service": "api", "revision": "api-...", "gate": 1, "step": "canary step 1: ...",
     "metadata": {...}}

``gate`` is null outside a gate, where ``step`` names the point instead (before rollout, before promotion,
after rollout); a post-rollout call also carries ``state``, how the deployment ended.

Signed (when the webhook names a signing secret) like Stripe's and GitHub's: ``X-ControlPlane-Timestamp`` is the
Unix time of the attempt and ``X-ControlPlane-Signature`` is ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``
keyed with the secret's value; a receiver recomputes it and refuses stale timestamps (replays).
``X-ControlPlane-Delivery`` is the same for every attempt of one call, so a receiver can de-duplicate retries.
``X-ControlPlane-Event`` is the webhook's type (``rollout``, ``confirm-promotion``, ...).

A receiver verifies a request with ``verify`` (or the same few lines in its own language) over the body bytes
exactly as received, before parsing them::

    from controlplane.domain.hooks import verify

    def handle(headers, body: bytes) -> int:
        if not verify(SECRET, headers.get("X-ControlPlane-Timestamp"),
                      headers.get("X-ControlPlane-Signature"), body, now=time.time()):
            return 401                      # a 4xx is an answer: it is not retried
        if seen_before(headers["X-ControlPlane-Delivery"]):
            return 200                      # a retry of a call already handled
        ...

Without this package: ``expected = "sha256=" + hmac.new(SECRET, f"{timestamp}.".encode() + body,
hashlib.sha256).hexdigest()``, compared with ``hmac.compare_digest``, and refuse a timestamp more than five
minutes from the receiver's clock. To rotate the key, accept either secret while both are in use.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from controlplane.domain.manifest.webhooks import Webhook

TIMESTAMP_HEADER = "X-ControlPlane-Timestamp"
SIGNATURE_HEADER = "X-ControlPlane-Signature"
DELIVERY_HEADER = "X-ControlPlane-Delivery"
EVENT_HEADER = "X-ControlPlane-Event"
SIGNATURE_SCHEME = "sha256="
# How far a signed timestamp may be from the receiver's clock: Stripe's default, and enough for clock skew.
TOLERANCE_SECONDS = 300


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


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed with ``secret``: the ``X-ControlPlane-Signature``
    of a request sent at Unix time ``timestamp``. Signing the timestamp with the body stops a replay from
    passing with a fresh timestamp."""
    digest = hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return SIGNATURE_SCHEME + digest


def verify(
    secret: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    now: float,
    tolerance_seconds: float = TOLERANCE_SECONDS,
) -> bool:
    """True when ``signature_header`` is ``body``'s signature at ``timestamp_header`` under ``secret`` and that
    timestamp is within ``tolerance_seconds`` of ``now`` (Unix time) either way; False for a missing or malformed
    header, a stale or future timestamp (a replay, or a clock far off) or any other signature. The signatures
    are compared in constant time, so a forger learns nothing from how long a refusal takes."""
    if timestamp_header is None or signature_header is None:
        return False
    text = timestamp_header.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return False
    timestamp = int(text)
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body).encode("ascii")
    return hmac.compare_digest(expected, signature_header.strip().encode("utf-8", "replace"))


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
