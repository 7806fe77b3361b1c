"""One delivery of the local bus, as the Service Bus extension's message processor handles one message.

With ``autoCompleteMessages`` on (Azure/azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.ServiceBus,
Primitives/MessageProcessor.cs; Azure.Messaging.ServiceBus, Processor/ReceiverManager.cs ``ProcessOneMessage``):
the message is locked (``bus_locks``, renewed while the function runs), the function runs, and then

- success completes it (``delivered``);
- an exception abandons it: it is due again at once, until the entity's MaxDeliveryCount is used up, and then
  Service Bus dead-letters it with reason ``MaxDeliveryCountExceeded``;
- with ``autoCompleteMessages`` off nothing settles a ``func.ServiceBusMessage``: it is due again when its lock
  expires;
- a completion or abandon after the lock expired fails with MessageLockLost and is dropped: the message is
  another receiver's by then (or will be at its next receive).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from funchost.errors import ConcurrencyConflict, NotFound
from funchost.functions import FunctionEntry
from funchost.servicebus.locks import LOCK_LOST, MessageLocks
from funchost.servicebus.options import ServiceBusOptions
from funchost.servicebus.records import (
    DEADLETTERED,
    DELIVERED,
    DELIVERIES,
    LOG,
    PENDING,
    Delivery,
    LoggedMessage,
    service_bus_message,
)
from funchost.storage.tables import Tables

log = logging.getLogger(__name__)

Invoke = Callable[[FunctionEntry, Any], None]
"""Runs a Service Bus trigger function with an ``azure.functions.ServiceBusMessage``; raising means failure."""

MAX_DELIVERY_COUNT = 10  # Service Bus's default MaxDeliveryCount
# What Service Bus itself writes on a message it dead-letters after its last delivery (the documented
# DeadLetterReason / DeadLetterErrorDescription pair of "Overview of Service Bus dead-letter queues").
MAX_DELIVERIES_REASON = "MaxDeliveryCountExceeded"
MAX_DELIVERIES_DESCRIPTION = "Message couldn't be consumed after maximum delivery attempts."


class MessageProcessor:
    """Claims, invokes and settles deliveries of one bus; safe to call from several threads at once."""

    def __init__(
        self,
        tables: Tables,
        invoke: Invoke,
        locks: MessageLocks,
        options: ServiceBusOptions,
        max_delivery_count: int,
        clock: Callable[[], datetime],
        abandoned: Callable[[], None],
    ) -> None:
        """``abandoned`` is called after a delivery is abandoned: it is due again at once."""
        self._tables = tables
        self._invoke = invoke
        self._locks = locks
        self._options = options
        self._max_delivery_count = max_delivery_count
        self._clock = clock
        self._abandoned = abandoned

    def process(
        self, delivery: Delivery, function: FunctionEntry, now: datetime | None, claimed: Callable[[], None]
    ) -> bool:
        """Claim ``delivery``, run ``function`` on it and settle it; False if another receiver claimed it first.
        ``now`` None reads the clock at the claim and at the end; ``claimed`` is called once the claim is
        decided, either way."""
        try:
            if delivery.delivery_count >= self._max_delivery_count:
                # Its last try never settled (the process died holding the lock): no tries are left.
                return self._settle(delivery, DEADLETTERED, now or self._clock(), reason=MAX_DELIVERIES_REASON)
            lock = self._locks.claim(delivery, now or self._clock())
        finally:
            claimed()
        if lock is None:
            return False
        failure = None
        try:
            logged = LoggedMessage.from_entity(self._tables.get(LOG, delivery.log_partition, delivery.message_id))
            try:
                self._invoke(function, service_bus_message(logged, lock.delivery, lock.locked_until))
            except Exception as error:  # the function's failure is data about this delivery, not ours to raise
                failure = f"{type(error).__name__}: {error}"
                count = lock.delivery.delivery_count
                log.warning("%s failed on %s (delivery %d): %s", function.name, delivery.message_id, count, failure)
        finally:
            finished = now or self._clock()
            held = self._locks.release(lock, finished)
        if held is None:
            count = lock.delivery.delivery_count
            where = delivery.subscription
            log.warning("settling %s on %s (delivery %d) failed: %s", delivery.message_id, where, count, LOCK_LOST)
            return True  # whoever receives it next settles it
        if not self._options.auto_complete_messages:
            # A func.ServiceBusMessage has no settlement methods: the message comes back when its lock expires.
            return self._settle(held, PENDING, held.next_attempt, error=failure)
        if failure is None:
            return self._settle(held, DELIVERED, finished)
        if held.delivery_count >= self._max_delivery_count:
            return self._settle(held, DEADLETTERED, finished, reason=MAX_DELIVERIES_REASON, error=failure)
        settled = self._settle(held, PENDING, finished, error=failure)  # abandoned: due again at once
        self._abandoned()
        return settled

    def _settle(
        self, delivery: Delivery, state: str, when: datetime, reason: str | None = None, error: str | None = None
    ) -> bool:
        description = MAX_DELIVERIES_DESCRIPTION if reason == MAX_DELIVERIES_REASON else None
        if state == DEADLETTERED:
            log.error(
                "dead-lettered %s on %s after %d deliveries: %s (last error: %s)",
                delivery.message_id,
                delivery.subscription,
                delivery.delivery_count,
                reason,
                error or delivery.last_error,
            )
        settled = replace(
            delivery,
            state=state,
            next_attempt=when,
            last_error=error or delivery.last_error,
            reason=reason,
            description=description,
            settled_at=None if state == PENDING else when,
        )
        try:
            self._tables.replace(DELIVERIES, settled.to_entity())
        except (ConcurrencyConflict, NotFound):
            # The lock expired and another dispatcher took the delivery over; its outcome stands.
            log.warning("settling %s on %s failed: %s", delivery.message_id, delivery.subscription, LOCK_LOST)
        return True
