"""A Service Bus message as the emulator stores, routes and delivers it, and the public sending API an app's
local wiring gets (``Sender``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

PropertyValue = str | int | bool


@dataclass(frozen=True)
class Message:
    """The Service Bus message fields the emulator carries: what a sender sets, what a subscription's SQL
    filter reads, what the trigger function receives."""

    message_id: str
    correlation_id: str | None = None
    subject: str | None = None
    content_type: str | None = None
    application_properties: Mapping[str, PropertyValue] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "application_properties", MappingProxyType(dict(self.application_properties)))


class Sender(Protocol):
    """What an app's local wiring may do with the emulator: send, and declare the namespace's SQL filters."""

    def send(self, topic: str, messages: Sequence[Message]) -> None:
        """Send to topic or queue ``topic``, in order, at least once; a message id already sent is a duplicate
        and dropped (duplicate detection); NotFound if no such entity."""

    def add_subscription_rule(self, topic: str, subscription: str, sql_filter: str) -> None:
        """Give subscription ``topic/subscription`` the rule ``sql_filter`` (its $Default rule), as the
        namespace would be configured on Azure; UnsupportedFilter if the emulator cannot evaluate it."""
