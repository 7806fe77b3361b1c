"""What the local bus stores and routes: subscriptions, logged messages and delivery records.

Tables (each row is a :class:`~funchost.storage.tables.Entity`):

| table | partition | row | holds |
|---|---|---|---|
| ``BusLog`` | correlation id (the traceid) | message id | the message once, its sequence, enqueue time, subscriptions |
| ``BusDeliveries`` | subscription path | message id | state, delivery count, next attempt, last error, dead letter |
| ``BusSequence`` | ``sequence`` | ``next`` | the next sequence number (ETag-guarded counter) |

Keys are deterministic, so a retried publish rewrites nothing and adds nothing it added before.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from azure.functions.servicebus import ServiceBusMessage

from funchost.errors import AlreadyExists, ConcurrencyConflict, NotFound
from funchost.function_checks import FunctionAppRefused, FunctionError
from funchost.functions import SERVICE_BUS, FunctionEntry
from funchost.name_resolver import function_in_error, resolve_whole_string
from funchost.servicebus.message import Message
from funchost.storage.tables import Entity, Tables
from funchost.timestamps import format_time, parse_time

LOG = "BusLog"
DELIVERIES = "BusDeliveries"
SEQUENCE = "BusSequence"
TABLES = [LOG, DELIVERIES, SEQUENCE]

PENDING = "pending"
DELIVERED = "delivered"
DEADLETTERED = "deadlettered"
_ACTIVE = 0  # azure.functions ServiceBusMessage.state of a message that is neither deferred nor scheduled


@dataclass(frozen=True)
class Subscription:
    """A Service Bus trigger's source: a topic subscription (``name`` set) or a queue (``name`` None)."""

    entity: str
    name: str | None
    function: FunctionEntry

    @property
    def path(self) -> str:
        """The Service Bus entity path: ``topic/Subscriptions/name`` or the queue name."""
        return f"{self.entity}/Subscriptions/{self.name}" if self.name else self.entity


def subscriptions_of(functions: Iterable[FunctionEntry], app_settings: Mapping[str, str]) -> list[Subscription]:
    """One subscription per ``serviceBusTrigger`` function, ``%SETTING%`` references resolved from app settings.

    FunctionAppRefused names every function whose entity names do not resolve (the host's indexing error).
    Two functions on one subscription would compete for its messages in Azure; that is refused here (ValueError).
    """
    found: dict[str, Subscription] = {}
    unresolved: list[FunctionError] = []
    for entry in functions:
        if entry.trigger_type != SERVICE_BUS:
            continue
        queue = entry.trigger.get("queueName")
        entity = queue or entry.trigger.get("topicName")
        name = None if queue else entry.trigger.get("subscriptionName")
        if not entity or (not queue and not name):
            raise ValueError(
                f"function {entry.name}: a Service Bus trigger needs queueName or topicName+subscriptionName"
            )
        try:
            subscription = Subscription(resolve_whole_string(entity, app_settings), _resolve(name, app_settings), entry)
        except ValueError as error:
            unresolved.append(FunctionError(entry.name, function_in_error(entry.name, str(error))))
            continue
        other = found.get(subscription.path.lower())
        if other is not None:
            raise ValueError(
                f"functions {other.function.name} and {entry.name} both listen on {subscription.path}; "
                "give each its own subscription"
            )
        found[subscription.path.lower()] = subscription
    if unresolved:
        raise FunctionAppRefused(unresolved)
    return list(found.values())


def _resolve(value: str | None, app_settings: Mapping[str, str]) -> str | None:
    """``%SETTING%`` references resolved as the host resolves them (ValueError with its message)."""
    return None if value is None else resolve_whole_string(value, app_settings)


def allocate_sequence(tables: Tables, count: int) -> int:
    """Reserve ``count`` sequence numbers and return the first; safe across threads and processes."""
    while True:
        try:
            counter = tables.get(SEQUENCE, "sequence", "next")
        except NotFound:
            try:
                tables.insert(SEQUENCE, Entity("sequence", "next", {"next": 1 + count}))
                return 1
            except AlreadyExists:
                continue
        first = int(counter.body["next"])
        try:
            tables.replace(SEQUENCE, replace(counter, body={"next": first + count}))
            return first
        except ConcurrencyConflict:
            continue


@dataclass(frozen=True)
class LoggedMessage:
    """A message as the bus log holds it: written once per message id, never changed."""

    entity: str
    fields: Message
    sequence: int
    enqueued_time: datetime
    subscriptions: tuple[str, ...]

    @property
    def partition(self) -> str:
        return self.fields.correlation_id or ""

    def to_entity(self) -> Entity:
        fields = self.fields
        body: dict[str, Any] = {
            "entity": self.entity,
            "sequence": self.sequence,
            "enqueuedTime": format_time(self.enqueued_time),
            "subscriptions": list(self.subscriptions),
            "messageId": fields.message_id,
            "correlationId": fields.correlation_id,
            "subject": fields.subject,
            "contentType": fields.content_type,
            "applicationProperties": dict(fields.application_properties),
        }
        try:
            body["body"] = fields.body.decode("utf-8")
        except UnicodeDecodeError:
            body["bodyBase64"] = base64.b64encode(fields.body).decode("ascii")
        return Entity(self.partition, fields.message_id, body)

    @classmethod
    def from_entity(cls, entity: Entity) -> LoggedMessage:
        body = entity.body
        raw = body["body"].encode("utf-8") if "body" in body else base64.b64decode(body["bodyBase64"])
        fields = Message(
            message_id=body["messageId"],
            correlation_id=body["correlationId"],
            subject=body["subject"],
            content_type=body["contentType"],
            application_properties=body["applicationProperties"],
            body=raw,
        )
        return cls(
            entity=body["entity"],
            fields=fields,
            sequence=body["sequence"],
            enqueued_time=parse_time(body["enqueuedTime"]),
            subscriptions=tuple(body["subscriptions"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The wire shape the operator CLI prints (the stored entity's body)."""
        return dict(self.to_entity().body)


@dataclass(frozen=True)
class Delivery:
    """One message's delivery to one subscription (Service Bus: the message's copy in that subscription).

    ``reason`` and ``description`` are a dead letter's DeadLetterReason and DeadLetterErrorDescription;
    ``last_error`` is the function's last failure (on Azure it is in the function's logs, not on the message).
    """

    subscription: str
    message_id: str
    log_partition: str
    sequence: int
    type: str | None
    state: str
    delivery_count: int
    next_attempt: datetime
    last_error: str | None = None
    reason: str | None = None
    description: str | None = None
    settled_at: datetime | None = None
    etag: str | None = None

    @classmethod
    def new(cls, subscription: str, logged: LoggedMessage) -> Delivery:
        return cls(
            subscription=subscription,
            message_id=logged.fields.message_id,
            log_partition=logged.partition,
            sequence=logged.sequence,
            type=logged.fields.subject,
            state=PENDING,
            delivery_count=0,
            next_attempt=logged.enqueued_time,
        )

    def to_entity(self) -> Entity:
        body = {
            "subscription": self.subscription,
            "messageId": self.message_id,
            "logPartition": self.log_partition,
            "sequence": self.sequence,
            "type": self.type,
            "state": self.state,
            "deliveryCount": self.delivery_count,
            "nextAttempt": format_time(self.next_attempt),
            "lastError": self.last_error,
            "reason": self.reason,
            "description": self.description,
            "settledAt": format_time(self.settled_at) if self.settled_at else None,
        }
        return Entity(self.subscription, self.message_id, body, {"State": self.state}, self.etag)

    @classmethod
    def from_entity(cls, entity: Entity) -> Delivery:
        body = entity.body
        return cls(
            subscription=body["subscription"],
            message_id=body["messageId"],
            log_partition=body["logPartition"],
            sequence=body["sequence"],
            type=body["type"],
            state=body["state"],
            delivery_count=body["deliveryCount"],
            next_attempt=parse_time(body["nextAttempt"]),
            last_error=body["lastError"],
            reason=body["reason"],
            description=body.get("description"),  # absent from records written before it existed
            settled_at=parse_time(body["settledAt"]) if body["settledAt"] else None,
            etag=entity.etag,
        )

    def to_dict(self) -> dict[str, Any]:
        """The wire shape the operator CLI prints."""
        return dict(self.to_entity().body)


def service_bus_message(logged: LoggedMessage, delivery: Delivery, locked_until: datetime) -> ServiceBusMessage:
    """The trigger value the Functions host would pass for this delivery (``azure.functions`` type)."""
    fields = logged.fields
    properties = dict(fields.application_properties)
    return ServiceBusMessage(
        body=fields.body,
        application_properties=properties,
        user_properties=dict(properties),
        content_type=fields.content_type,
        correlation_id=fields.correlation_id,
        delivery_count=delivery.delivery_count,
        enqueued_sequence_number=logged.sequence,
        enqueued_time_utc=logged.enqueued_time,
        label=fields.subject,
        subject=fields.subject,
        locked_until=locked_until,
        lock_token=str(uuid.uuid4()),
        message_id=fields.message_id,
        sequence_number=logged.sequence,
        state=_ACTIVE,
        to=logged.entity,
    )
