"""The local bus: the embedded host's stand-in for Service Bus, persisted in document tables.

Topology comes from the function index: each ``serviceBusTrigger`` function is one subscription (or queue).
``publish`` logs each message once (duplicate detection by message id) and adds one delivery record per
subscription of the target topic whose rule accepts it (``bus_filters``: the namespace's SQL filters);
``deliver_due`` hands due deliveries to the same trigger functions as ``azure.functions.ServiceBusMessage``
objects, as the Service Bus extension's message pump does with
``autoCompleteMessages`` on (Azure/azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.ServiceBus,
Primitives/MessageProcessor.cs and Config/ServiceBusOptions.cs):

- up to ``max_concurrent_calls`` deliveries of one subscription run at once (host.json
  ``extensions.serviceBus.maxConcurrentCalls``), in no guaranteed order;
- claiming a delivery (ETag-guarded replace) counts it (``delivery_count`` 1 on the first try) and locks it
  for ``lock_duration``; a lost claim race means another dispatcher has it;
- success completes it (``delivered``); an exception abandons it: it is due again at once, with no delay,
  until the entity's ``max_delivery_count`` (Service Bus's MaxDeliveryCount, default 10) is used up, and
  then Service Bus dead-letters it with reason ``MaxDeliveryCountExceeded``;
- any body reaches the function, envelope or not: the bus does not read bodies, Service Bus does not;
- with ``autoCompleteMessages`` off the function cannot settle a ``func.ServiceBusMessage``, so nothing
  settles it: it is due again when its lock expires, as on Azure;
- a lock that expires (the process died mid-delivery) makes the delivery due again, so nothing is lost.

Each subscription's due deliveries queue in memory and up to ``max_concurrent_calls`` lanes drain that queue,
one delivery at a time each, as the extension's concurrent receive calls do. ``start()`` runs a dispatcher
thread that queries for due deliveries when woken by ``publish`` or by a lane that ran out of work, and polls
slowly for messages that another process wrote.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.adapters.documents import DocumentTables
from controlplane.adapters.servicebus_mapping import MessageFields, envelope_to_message
from controlplane.domain.events import Envelope
from controlplane.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    ControlPlaneError,
    FieldError,
    InvalidInput,
    NotFound,
)
from controlplane.local.bus_filters import parse_filters
from controlplane.local.bus_options import ServiceBusOptions
from controlplane.local.bus_records import (
    DEADLETTERED,
    DELIVERED,
    DELIVERIES,
    LOG,
    PENDING,
    TABLES,
    Delivery,
    LoggedMessage,
    Subscription,
    allocate_sequence,
    service_bus_message,
    subscriptions_of,
)
from controlplane.local.functions import FunctionEntry

log = logging.getLogger(__name__)

Invoke = Callable[[FunctionEntry, Any], None]
"""Runs a Service Bus trigger function with an ``azure.functions.ServiceBusMessage``; raising means failure."""

DEFAULT_TOPIC = "events"
MAX_DELIVERY_COUNT = 10  # Service Bus's default MaxDeliveryCount
MAX_MESSAGE_ID = 128  # Service Bus's limit
# What Service Bus itself writes on a message it dead-letters after its last delivery (the documented
# DeadLetterReason / DeadLetterErrorDescription pair of "Overview of Service Bus dead-letter queues").
MAX_DELIVERIES_REASON = "MaxDeliveryCountExceeded"
MAX_DELIVERIES_DESCRIPTION = "Message couldn't be consumed after maximum delivery attempts."


class LocalBus:
    """Topics, queues and subscriptions of one function app, on document tables (Azurite or memory)."""

    def __init__(
        self,
        tables: DocumentTables,
        functions: Iterable[FunctionEntry],
        invoke: Invoke | None = None,
        *,
        topic: str = DEFAULT_TOPIC,
        app_settings: Mapping[str, str] | None = None,
        max_delivery_count: int = MAX_DELIVERY_COUNT,
        options: ServiceBusOptions | None = None,
        filters: Mapping[str, str] | None = None,
        lock_duration: timedelta = timedelta(minutes=5),
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``functions``: a FunctionIndex or its entries; ``invoke`` is needed only to deliver.
        ``topic`` is where ``publish`` sends by default; ``app_settings`` resolves ``%Name%`` trigger values;
        ``options``: host.json's ``extensions.serviceBus`` (the extension's defaults when None); ``filters``:
        subscription path -> its rule's SQL filter, as the namespace is configured (UnsupportedFilter if the
        local bus cannot evaluate one)."""
        self._tables = tables
        self._invoke = invoke
        self.topic = topic
        self._subscriptions = {s.path: s for s in subscriptions_of(functions, app_settings or {})}
        self._max_delivery_count = max_delivery_count
        self._options = options or ServiceBusOptions.from_section({})
        self._filters = {path.lower(): rule for path, rule in parse_filters(filters or {}).items()}
        self._lock_duration = lock_duration
        self._poll_interval = poll_interval
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        # Per subscription path: due deliveries not yet taken, message ids being delivered, lanes running.
        self._backlog: dict[str, deque[Delivery]] = defaultdict(deque)
        self._in_flight: dict[str, set[str]] = defaultdict(set)
        self._lanes: dict[str, int] = defaultdict(int)
        self._pool: ThreadPoolExecutor | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions.values())

    def create_tables(self) -> None:
        """Make sure the bus tables exist; idempotent."""
        self._tables.create_tables(TABLES)

    # -- publishing ------------------------------------------------------------------------------------------

    def publish(self, messages: Sequence[MessageFields], to: str | None = None) -> None:
        """Send to topic or queue ``to`` (default: the bus topic), in order. A message id already logged is a
        duplicate and dropped; retrying after a crash completes what the first attempt left undone."""
        entity = to or self.topic
        _check(messages)
        targets = self._targets(entity)
        if not messages:
            return
        first = allocate_sequence(self._tables, len(messages))
        now = self._clock()
        for offset, fields in enumerate(messages):
            accepted = tuple(path for path in targets if self._accepts(path, fields))
            logged = LoggedMessage(entity, fields, first + offset, now, accepted)
            try:
                self._tables.insert(LOG, logged.to_document())
            except AlreadyExists:
                # A duplicate: the first copy (its sequence and subscriptions) wins, as in Service Bus.
                logged = LoggedMessage.from_document(self._tables.get(LOG, logged.partition, fields.message_id))
            for path in logged.subscriptions:
                with contextlib.suppress(AlreadyExists):  # a retried publish: this one was written before
                    self._tables.insert(DELIVERIES, Delivery.new(path, logged).to_document())
        self._wake.set()

    def _accepts(self, path: str, fields: MessageFields) -> bool:
        """The subscription's rule (its SQL filter; none is Service Bus's TrueFilter) lets the message in."""
        rule = self._filters.get(path.lower())
        return rule is None or rule.accepts(fields)

    def _targets(self, entity: str) -> tuple[str, ...]:
        paths = tuple(s.path for s in self._subscriptions.values() if s.entity.lower() == entity.lower())
        if not paths and entity.lower() != self.topic.lower():
            known = sorted({self.topic, *(s.entity for s in self._subscriptions.values())})
            raise NotFound(f"no topic or queue named {entity!r} (known: {', '.join(known)})")
        return paths

    # -- delivering ------------------------------------------------------------------------------------------

    def deliver_due(self, now: datetime | None = None) -> int:
        """Deliver what is due at ``now`` (default: the clock at each delivery) and wait; return how many this
        call handled. Each subscription gets up to ``maxConcurrentCalls`` delivery lanes, counting lanes that
        already run; a message due again meanwhile (abandoned) waits for the next call."""
        return sum(future.result() for future in self._submit_due(now))

    def _submit_due(self, now: datetime | None) -> list[Future[int]]:
        """Queue the due deliveries per subscription and start the lanes that drain them."""
        if self._invoke is None:
            raise RuntimeError("this LocalBus was built without an invoke callback; it can publish but not deliver")
        cutoff = now or self._clock()
        due: dict[str, list[Delivery]] = defaultdict(list)
        for document in self._tables.query(DELIVERIES, where={"State": PENDING}):
            delivery = Delivery.from_document(document)
            # A subscription whose function is gone keeps its messages, as Service Bus would.
            if delivery.next_attempt <= cutoff and delivery.subscription in self._subscriptions:
                due[delivery.subscription].append(delivery)
        futures = []
        with self._lock:
            if self._pool is None:
                workers = self._options.max_concurrent_calls * max(len(self._subscriptions), 1)
                self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="local-bus")
            for path, deliveries in due.items():
                backlog = self._backlog[path]
                known = self._in_flight[path] | {delivery.message_id for delivery in backlog}
                # Oldest first, as a receiver sees them; once several lanes run their order is not kept.
                backlog.extend(d for d in sorted(deliveries, key=lambda d: d.sequence) if d.message_id not in known)
                for _ in range(min(self._options.max_concurrent_calls - self._lanes[path], len(backlog))):
                    self._lanes[path] += 1
                    futures.append(self._pool.submit(self._lane, path, now))
        return futures

    def _lane(self, path: str, now: datetime | None) -> int:
        """One of a subscription's concurrent calls: deliver from its backlog until the backlog is empty."""
        handled = 0
        try:
            while True:
                with self._lock:
                    backlog = self._backlog[path]
                    if not backlog or self._stopping.is_set():
                        return handled
                    delivery = backlog.popleft()
                    self._in_flight[path].add(delivery.message_id)
                try:
                    handled += self._deliver(delivery, now or self._clock())
                except Exception:
                    log.exception("local bus: delivering %s to %s failed", delivery.message_id, path)
                    raise  # the dispatcher thread reads no results; deliver_due's caller does
                finally:
                    with self._lock:
                        self._in_flight[path].discard(delivery.message_id)
        finally:
            with self._lock:
                self._lanes[path] -= 1
            self._wake.set()  # a call slot is free: look for more work

    def _deliver(self, delivery: Delivery, now: datetime) -> bool:
        if delivery.delivery_count >= self._max_delivery_count:
            # Its last try never settled (the process died holding the lock): no tries are left.
            return self._settle(delivery, DEADLETTERED, now, reason=MAX_DELIVERIES_REASON)
        locked_until = now + self._lock_duration
        claimed = replace(delivery, delivery_count=delivery.delivery_count + 1, next_attempt=locked_until)
        try:
            claimed = replace(claimed, etag=self._tables.replace(DELIVERIES, claimed.to_document()))
        except (ConcurrencyConflict, NotFound):
            return False  # another dispatcher claimed it first
        logged = LoggedMessage.from_document(self._tables.get(LOG, delivery.log_partition, delivery.message_id))
        function = self._subscriptions[delivery.subscription].function
        assert self._invoke is not None  # checked by _submit_due
        try:
            self._invoke(function, service_bus_message(logged, claimed, locked_until))
        except Exception as error:  # the function's failure is data about this delivery, not ours to raise
            failure = f"{type(error).__name__}: {error}"
            log.warning(
                "%s failed on %s (delivery %d): %s", function.name, delivery.message_id, claimed.delivery_count, failure
            )
            if not self._options.auto_complete_messages:
                return self._settle(claimed, PENDING, locked_until, error=failure)  # nobody abandons it
            if claimed.delivery_count >= self._max_delivery_count:
                return self._settle(claimed, DEADLETTERED, now, reason=MAX_DELIVERIES_REASON, error=failure)
            settled = self._settle(claimed, PENDING, now, error=failure)  # abandoned: due again at once
            self._wake.set()  # the dispatcher queues it again now, not when the lanes run dry
            return settled
        if not self._options.auto_complete_messages:
            # A func.ServiceBusMessage has no settlement methods: the message comes back when its lock expires.
            return self._settle(claimed, PENDING, locked_until)
        return self._settle(claimed, DELIVERED, now)

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
            self._tables.replace(DELIVERIES, settled.to_document())
        except (ConcurrencyConflict, NotFound):
            # The lock expired and another dispatcher took the delivery over; its outcome stands.
            log.warning("lost the lock on %s at %s before settling it", delivery.message_id, delivery.subscription)
        return True

    # -- dispatcher thread -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the dispatcher thread; idempotent."""
        if self._invoke is None:
            raise RuntimeError("this LocalBus was built without an invoke callback; it can publish but not deliver")
        with self._lock:
            if self._thread is not None:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="local-bus-dispatcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the dispatcher after the deliveries in flight finish; idempotent."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            thread.join()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            self._backlog.clear()  # lanes stopped early; what they left is still pending in the table
        self._stopping.clear()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before the pass, so a publish during it wakes the next one
            try:
                self._submit_due(None)
            except ControlPlaneError as error:
                log.warning("local bus: delivery pass failed, retrying: %s", error)
            except Exception:  # the dispatcher outlives one bad pass; the next poll tries again
                log.exception("local bus: delivery pass failed")
            self._wake.wait(self._poll_interval)

    # -- queries for the operator CLI ------------------------------------------------------------------------

    def events_for_trace(self, traceid: str) -> list[LoggedMessage]:
        """Every message of one trace (one partition query), in enqueue order."""
        messages = [LoggedMessage.from_document(document) for document in self._tables.query(LOG, partition=traceid)]
        return sorted(messages, key=lambda message: message.sequence)

    def dead_letters(self) -> list[Delivery]:
        """Dead-lettered deliveries (subscription, message id, type, reason and description as Service Bus sets
        them, delivery count, the function's last error), oldest first."""
        documents = self._tables.query(DELIVERIES, where={"State": DEADLETTERED})
        deliveries = [Delivery.from_document(document) for document in documents]
        return sorted(
            deliveries, key=lambda delivery: (delivery.settled_at or delivery.next_attempt, delivery.sequence)
        )

    def deliveries(self, message_id: str) -> list[Delivery]:
        """The delivery of one message to each subscription it was routed to."""
        found = []
        for path in self._subscriptions:
            try:
                found.append(Delivery.from_document(self._tables.get(DELIVERIES, path, message_id)))
            except NotFound:
                continue
        return found


class LocalEventBus:
    """The EventBus port on the local bus: envelopes go to the bus topic as Service Bus messages would."""

    def __init__(self, bus: LocalBus) -> None:
        self._bus = bus

    def publish(self, events: Sequence[Envelope]) -> None:
        """Publish in order, at least once; a re-published id is dropped as a duplicate."""
        self._bus.publish([envelope_to_message(envelope) for envelope in events])


def _check(messages: Sequence[MessageFields]) -> None:
    errors = []
    for number, fields in enumerate(messages):
        if not isinstance(fields.message_id, str) or not 0 < len(fields.message_id) <= MAX_MESSAGE_ID:
            errors.append(FieldError(f"messages[{number}].message_id", f"1-{MAX_MESSAGE_ID} characters required"))
    if errors:
        raise InvalidInput(errors)
