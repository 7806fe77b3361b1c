"""Message locks of the local bus: a claimed delivery is locked for the lock duration and renewed while it runs.

Service Bus locks a received message for its entity's LockDuration (``bus.DEFAULT_LOCK_DURATION``, Service Bus's
default). The Functions Service Bus extension passes host.json's
``maxAutoLockRenewalDuration`` to the Azure.Messaging.ServiceBus processor, which renews the lock of each message
while its function runs (Azure/azure-sdk-for-net, sdk/servicebus/Azure.Messaging.ServiceBus/src/Processor/
ReceiverManager.cs: ``RenewMessageLockAsync``, ``CalculateRenewDelay``, ``AutoRenewLock``):

- a renewal is due ``min(lock left / 2, 10 s)`` before the lock expires (``MaximumRenewBufferDuration``) and
  moves the expiry to the renewal time plus the lock duration;
- renewing stops ``maxAutoLockRenewalDuration`` after the message was received (``CancelAfter``) or when the
  function returns; ``00:00:00`` turns it off;
- once the lock expires the message is available again: a receiver gets it with its delivery count raised,
  while the first invocation may still run, and that invocation's completion or abandon then fails with
  MessageLockLost: its outcome is dropped.

Worked example: lock duration 1 min, maxAutoLockRenewalDuration 5 min (this app), received at 0 s.

=====================  ===============
renewal at             locked until
=====================  ===============
(received)             60 s
50 s                   110 s
100 s                  160 s
150 s, 200 s, 250 s    210, 260, 310 s
300 s: renewing stops  310 s: delivered again from then on
=====================  ===============

A lock whose holder died is never renewed: the delivery is due again one lock duration after its claim (or its
last renewal).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from funchost.errors import ConcurrencyConflict, HostError, NotFound
from funchost.servicebus.records import DELIVERIES, Delivery
from funchost.storage.tables import Tables

log = logging.getLogger(__name__)

MAX_RENEW_BUFFER = timedelta(seconds=10)  # Azure.Messaging.ServiceBus Constants.MaximumRenewBufferDuration
# What the Service Bus client says when a settlement or renewal comes after the lock expired.
LOCK_LOST = (
    "MessageLockLost: The lock supplied is invalid. Either the lock expired, "
    "or the message has already been removed from the queue."
)


def renewal_due(renewed_at: datetime, locked_until: datetime) -> datetime:
    """When the processor renews a lock taken (or last renewed) at ``renewed_at``: 60 s lock -> 50 s later;
    10 s lock -> 5 s later."""
    return locked_until - min((locked_until - renewed_at) / 2, MAX_RENEW_BUFFER)


@dataclass(eq=False)
class HeldLock:
    """A delivery this bus has claimed and not yet settled. ``delivery`` is the record as this holder last wrote
    it: its ETag guards the next write, its ``next_attempt`` is when the lock expires."""

    delivery: Delivery
    renewed_at: datetime
    renew_until: datetime  # received + maxAutoLockRenewalDuration: no renewal from then on
    lost: bool = False
    released: bool = False
    mutex: threading.Lock = field(default_factory=threading.Lock)

    @property
    def locked_until(self) -> datetime:
        return self.delivery.next_attempt

    @property
    def next_renewal(self) -> datetime | None:
        """When this lock is renewed next; None when it will not be (settled, lost, renewal window over)."""
        if self.released or self.lost:
            return None
        due = renewal_due(self.renewed_at, self.locked_until)
        return due if due < self.renew_until else None


class MessageLocks:
    """The locks one bus holds, on the delivery table. Safe across threads; across processes the ETags decide."""

    def __init__(self, tables: Tables, lock_duration: timedelta, max_renewal: timedelta) -> None:
        self._tables = tables
        self._lock_duration = lock_duration
        self._max_renewal = max_renewal
        self._held: set[HeldLock] = set()
        self._mutex = threading.Lock()

    def claim(self, delivery: Delivery, now: datetime) -> HeldLock | None:
        """Count a due delivery and lock it for one lock duration from ``now``; None if another receiver claimed
        it first (its ETag changed)."""
        claimed = replace(delivery, delivery_count=delivery.delivery_count + 1, next_attempt=now + self._lock_duration)
        try:
            etag = self._tables.replace(DELIVERIES, claimed.to_entity())
        except (ConcurrencyConflict, NotFound):
            return None
        lock = HeldLock(replace(claimed, etag=etag), renewed_at=now, renew_until=now + self._max_renewal)
        with self._mutex:
            self._held.add(lock)
        return lock

    def renew_due(self, now: datetime) -> int:
        """Renew every held lock whose renewal is due at ``now``; return how many were renewed. A lock that
        expired first, or whose delivery another receiver took over, is lost; a transient failure is retried
        at the next call."""
        with self._mutex:
            held = list(self._held)
        renewed = 0
        for lock in held:
            with lock.mutex:
                due = lock.next_renewal
                if due is None or now < due or now >= lock.renew_until:
                    continue
                if now >= lock.locked_until:
                    lock.lost = True  # renewing an expired lock fails on Service Bus too
                    continue
                extended = replace(lock.delivery, next_attempt=now + self._lock_duration)
                try:
                    etag = self._tables.replace(DELIVERIES, extended.to_entity())
                except (ConcurrencyConflict, NotFound):
                    lock.lost = True
                    continue
                except HostError as error:
                    log.warning("renewing the lock on %s failed, retrying: %s", lock.delivery.message_id, error)
                    continue
                lock.delivery, lock.renewed_at = replace(extended, etag=etag), now
                renewed += 1
        return renewed

    def release(self, lock: HeldLock, now: datetime) -> Delivery | None:
        """Stop renewing ``lock``: the delivery to settle (latest ETag and expiry), or None if the lock is lost
        (it expired by ``now`` or was taken over), where Service Bus answers a settlement with LOCK_LOST."""
        with self._mutex:
            self._held.discard(lock)
        with lock.mutex:
            lock.released = True
            if lock.lost or now >= lock.locked_until:
                return None
            return lock.delivery

    def next_renewal(self) -> datetime | None:
        """The earliest renewal due among the held locks; None when none will be renewed."""
        with self._mutex:
            held = list(self._held)
        due = [when for when in (lock.next_renewal for lock in held) if when is not None]
        return min(due, default=None)
