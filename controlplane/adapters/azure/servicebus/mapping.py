"""How an event envelope travels as a Service Bus message, and back. Pure: no SDK, no I/O.

| message field / property | value |
|---|---|
| ``message_id`` | envelope ``id`` (deterministic per step, so duplicate detection drops a retried publish) |
| ``correlation_id`` | ``traceid`` |
| ``subject`` | ``type`` |
| ``content_type`` | ``application/cloudevents+json`` (structured mode) |
| application property ``type`` / ``traceid`` | the envelope's ``type`` / ``traceid`` |
| application property ``environment`` / ``service`` | ``data.environment`` / ``data.service`` when present |
| body | the structured CloudEvent JSON, UTF-8 |

The application properties exist for subscription SQL filters (``type = 'ScalingPolicyApplied'``). Both the
local bus and the Service Bus adapter use this module, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from controlplane.domain.events import CONTENT_TYPE, Envelope
from controlplane.domain.notifications import NOTIFIABLE
from controlplane.errors import FieldError, InvalidEnvelope

PropertyValue = str | int | bool
# Data keys copied into application properties, so subscriptions can filter on them.
FILTER_KEYS = ("environment", "service")
# The SQL filter of each subscription of the event topic (its $Default rule): infra/messaging.py creates the
# subscriptions with them, and the local host's bus routes by them, so both deliver the same events.
SUBSCRIPTION_FILTERS = {
    "scaling": "type = 'HealthCheckCompleted'",
    "notifications": "type IN (" + ", ".join(f"'{event_type}'" for event_type in NOTIFIABLE) + ")",
}


# How long a receiver holds a message before Service Bus offers it again (the subscriptions' LockDuration):
# infra/messaging.py creates the subscriptions with it; the local host's bus locks its deliveries for Service Bus's
# default, which is the same, so a message whose host died comes back after the same time in both places.
LOCK_DURATION = timedelta(minutes=1)


def iso8601_duration(duration: timedelta) -> str:
    """A whole-second duration as ARM writes a Service Bus LockDuration: 60 s is ``PT1M``, 90 s ``PT1M30S``."""
    minutes, seconds = divmod(int(duration.total_seconds()), 60)
    return "PT" + (f"{minutes}M" if minutes else "") + (f"{seconds}S" if seconds or not minutes else "")


def subscription_filters(topic: str) -> dict[str, str]:
    """``SUBSCRIPTION_FILTERS`` keyed by Service Bus entity path (``topic/Subscriptions/name``)."""
    return {f"{topic}/Subscriptions/{name}": expression for name, expression in SUBSCRIPTION_FILTERS.items()}


@dataclass(frozen=True)
class MessageFields:
    """The Service Bus message fields the control plane sets and reads."""

    message_id: str
    correlation_id: str | None
    subject: str | None
    content_type: str | None
    application_properties: Mapping[str, PropertyValue] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "application_properties", MappingProxyType(dict(self.application_properties)))


def envelope_to_message(envelope: Envelope) -> MessageFields:
    """The message that carries ``envelope`` (see the table in the module docstring)."""
    properties: dict[str, PropertyValue] = {"type": envelope.type, "traceid": envelope.traceid}
    for key in FILTER_KEYS:
        value = envelope.data.get(key)
        if isinstance(value, str):
            properties[key] = value
    return MessageFields(
        message_id=envelope.id,
        correlation_id=envelope.traceid,
        subject=envelope.type,
        content_type=CONTENT_TYPE,
        application_properties=properties,
        body=envelope.to_json().encode("utf-8"),
    )


def message_to_envelope(body: bytes, content_type: str | None) -> Envelope:
    """The envelope a message carries; InvalidEnvelope (the dead-letter reason) if it carries none."""
    if not is_cloudevents_json(content_type):
        raise InvalidEnvelope([FieldError("content_type", f"must be {CONTENT_TYPE} (got {content_type!r})")])
    return Envelope.from_json(body)


def is_cloudevents_json(content_type: str | None) -> bool:
    """True for ``application/cloudevents+json``, in any case and with or without parameters (charset)."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == CONTENT_TYPE
