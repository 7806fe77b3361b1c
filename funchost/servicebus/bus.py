"""The local bus: the embedded host's stand-in for Service Bus, persisted in the host's tables.

Topology comes from the function index: each ``serviceBusTrigger`` function is one subscription (or queue).
``publish`` logs each message once (duplicate detection by message id) and adds one delivery record per
subscription of the target topic whose rule accepts it (``filters``: the namespace's SQL filters, given to the
constructor or declared by the app's start-up through ``add_subscription_rule``);
``deliver_due`` hands due deliveries to the same trigger functions as ``azure.functions.ServiceBusMessage``
objects, as the Service Bus extension's message pump does (Azure/azure-sdk-for-net,
Microsoft.Azure.WebJobs.Extensions.ServiceBus, Primitives/MessageProcessor.cs and Config/ServiceBusOptions.cs;
one delivery is ``bus_processor``, its lock ``bus_locks``):

- up to ``max_concurrent_calls`` deliveries of one subscription run at once (host.json
  ``extensions.serviceBus.maxConcurrentCalls``), in no guaranteed order;
- claiming a delivery (ETag-guarded replace) counts it (``delivery_count`` 1 on the first try) and locks it
  for ``lock_duration`` (the subscriptions' LockDuration, 1 min), renewed while the function runs up to
  host.json ``maxAutoLockRenewalDuration`` (``bus_locks``); a lost claim race means another dispatcher has it;
- with ``autoCompleteMessages`` on, success completes it (``delivered``); an exception abandons it: it is due
  again at once, with no delay, until the entity's ``max_delivery_count`` (Service Bus's MaxDeliveryCount,
  default 10) is used up, and then Service Bus dead-letters it with reason ``MaxDeliveryCountExceeded``;
- any body reaches the function, envelope or not: the bus does not read bodies, Service Bus does not;
- with ``autoCompleteMessages`` off the function cannot settle a ``func.ServiceBusMessage``, so nothing
  settles it: it is due again when its lock expires, as on Azure;
- a lock that expires (the process died mid-delivery, or the function ran past the renewal limit) makes the
  delivery due again, so nothing is lost; a settlement that comes after its lock expired is dropped, as
  Service Bus refuses it with MessageLockLost.

Each subscription's due deliveries queue in memory and up to ``max_concurrent_calls`` lanes drain that queue,
one delivery at a time each, as the extension's concurrent receive calls do. ``start()`` runs a dispatcher
thread that queries for due deliveries when woken by ``publish`` or by a lane that ran out of work, and polls
slowly for messages that another process wrote; it also renews the locks held (``renew_locks``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from funchost.errors import AlreadyExists, FieldError, HostError, InvalidInput, NotFound
from funchost.functions import FunctionEntry
from funchost.servicebus.filters import parse_filters
from funchost.servicebus.locks import MessageLocks
from funchost.servicebus.message import Message
from funchost.servicebus.options import ServiceBusOptions
from funchost.servicebus.processor import MAX_DELIVERY_COUNT, Invoke, MessageProcessor
from funchost.servicebus.records import (
    DEADLETTERED,
    DELIVERIES,
    LOG,
    PENDING,
    TABLES,
    Delivery,
    LoggedMessage,
    Subscription,
    allocate_sequence,
    subscriptions_of,
)
from funchost.storage.tables import Tables

log = logging.getLogger(__name__)

# How long a receiver holds a message before Service Bus offers it again: the LockDuration Service Bus gives a
# queue or subscription unless it is created with another.
DEFAULT_LOCK_DURATION = timedelta(minutes=1)
MAX_MESSAGE_ID = 128  # Service Bus's limit
MIN_WAIT = 0.1  # seconds between the dispatcher's passes at the least


class LocalBus:
    """Topics, queues and subscriptions of one function app, on entity tables (Azurite or memory)."""

    def __init__(
        self,
        tables: Tables,
        functions: Iterable[FunctionEntry],
        invoke: Invoke | None = None,
        *,
        app_settings: Mapping[str, str] | None = None,
        max_delivery_count: int = MAX_DELIVERY_COUNT,
        options: ServiceBusOptions | None = None,
        filters: Mapping[str, str] | None = None,
        lock_duration: timedelta = DEFAULT_LOCK_DURATION,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``functions``: a FunctionIndex or its entries (their ``serviceBusTrigger`` bindings are the topics,
        queues and subscriptions the bus knows); ``invoke`` is needed only to deliver.
        ``app_settings`` resolves ``%Name%`` trigger values;
        ``options``: host.json's ``extensions.serviceBus`` (the extension's defaults when None); ``filters``:
        subscription path -> its rule's SQL filter, as the namespace is configured (UnsupportedFilter if the
        local bus cannot evaluate one); ``lock_duration``: the entities' LockDuration."""
        self._tables = tables
        self._subscriptions = {s.path: s for s in subscriptions_of(functions, app_settings or {})}
        self._options = options or ServiceBusOptions.from_section({})
        self._filters = {path.lower(): rule for path, rule in parse_filters(filters or {}).items()}
        self._locks = MessageLocks(tables, lock_duration, self._options.max_auto_lock_renewal)
        self._poll_interval = poll_interval
        self._clock = clock or (lambda: datetime.now(UTC))
        self._wake = threading.Event()
        self._processor = None
        if invoke is not None:
            self._processor = MessageProcessor(
                tables, invoke, self._locks, self._options, max_delivery_count, self._clock, self._wake.set
            )
        self._lock = threading.Lock()
        # Per subscription path: due deliveries not yet taken, message ids taken but not yet claimed, lanes running.
        self._backlog: dict[str, deque[Delivery]] = defaultdict(deque)
        self._in_flight: dict[str, set[str]] = defaultdict(set)
        self._lanes: dict[str, int] = defaultdict(int)
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions.values())

    def create_tables(self) -> None:
        """Make sure the bus tables exist; idempotent."""
        self._tables.create_tables(TABLES)

    # -- publishing ------------------------------------------------------------------------------------------

    def publish(self, messages: Sequence[Message], *, to: str) -> None:
        """Send to topic or queue ``to``, in order. A message id already logged is a duplicate and dropped;
        retrying after a crash completes what the first attempt left undone."""
        _check(messages)
        targets = self._targets(to)
        if not messages:
            return
        first = allocate_sequence(self._tables, len(messages))
        now = self._clock()
        for offset, fields in enumerate(messages):
            accepted = tuple(path for path in targets if self._accepts(path, fields))
            logged = LoggedMessage(to, fields, first + offset, now, accepted)
            try:
                self._tables.insert(LOG, logged.to_entity())
            except AlreadyExists:
                # A duplicate: the first copy (its sequence and subscriptions) wins, as in Service Bus.
                logged = LoggedMessage.from_entity(self._tables.get(LOG, logged.partition, fields.message_id))
            for path in logged.subscriptions:
                with contextlib.suppress(AlreadyExists):  # a retried publish: this one was written before
                    self._tables.insert(DELIVERIES, Delivery.new(path, logged).to_entity())
        self._wake.set()

    def send(self, topic: str, messages: Sequence[Message]) -> None:
        """``publish`` to ``topic`` (the ``Sender`` API an app's local wiring gets)."""
        self.publish(messages, to=topic)

    def add_subscription_rule(self, topic: str, subscription: str, sql_filter: str) -> None:
        """Route to ``topic/Subscriptions/subscription`` only what ``sql_filter`` accepts (its $Default rule, as
        the namespace is configured); UnsupportedFilter if the local bus cannot evaluate it."""
        path = f"{topic}/Subscriptions/{subscription}"
        (rule,) = parse_filters({path: sql_filter}).values()
        with self._lock:
            self._filters[path.lower()] = rule

    def _accepts(self, path: str, fields: Message) -> bool:
        """The subscription's rule (its SQL filter; none is Service Bus's TrueFilter) lets the message in."""
        rule = self._filters.get(path.lower())
        return rule is None or rule.accepts(fields)

    def _targets(self, entity: str) -> tuple[str, ...]:
        """The subscription paths of topic or queue ``entity``; NotFound for an entity no trigger of the app names
        (the only entities the bus knows)."""
        paths = tuple(s.path for s in self._subscriptions.values() if s.entity.lower() == entity.lower())
        if not paths:
            known = sorted({s.entity for s in self._subscriptions.values()})
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
        self._require_processor()
        cutoff = now or self._clock()
        due: dict[str, list[Delivery]] = defaultdict(list)
        for entity in self._tables.query(DELIVERIES, where={"State": PENDING}):
            delivery = Delivery.from_entity(entity)
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

    def _require_processor(self) -> MessageProcessor:
        if self._processor is None:
            raise RuntimeError("this LocalBus was built without an invoke callback; it can publish but not deliver")
        return self._processor

    def _claimed(self, delivery: Delivery) -> None:
        """From its claim on, a delivery's lock, not ``_in_flight``, keeps other lanes off it."""
        with self._lock:
            self._in_flight[delivery.subscription].discard(delivery.message_id)

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
                function = self._subscriptions[path].function
                claimed = functools.partial(self._claimed, delivery)
                try:
                    handled += self._require_processor().process(delivery, function, now, claimed)
                except Exception:
                    log.exception("local bus: delivering %s to %s failed", delivery.message_id, path)
                    raise  # the dispatcher thread reads no results; deliver_due's caller does
        finally:
            with self._lock:
                self._lanes[path] -= 1
            self._wake.set()  # a call slot is free: look for more work

    # -- dispatcher thread -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the dispatcher thread; idempotent."""
        self._require_processor()
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

    def renew_locks(self, now: datetime | None = None) -> int:
        """Renew the locks of the deliveries running here whose renewal is due at ``now`` (default: the clock);
        return how many. The dispatcher thread calls it on every pass."""
        return self._locks.renew_due(now or self._clock())

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before the pass, so a publish during it wakes the next one
            try:
                self.renew_locks()
                self._submit_due(None)
            except HostError as error:
                log.warning("local bus: delivery pass failed, retrying: %s", error)
            except Exception:  # the dispatcher outlives one bad pass; the next poll tries again
                log.exception("local bus: delivery pass failed")
            self._wake.wait(self._next_pass_in())

    def _next_pass_in(self) -> float:
        """Seconds to the next pass: the poll interval, or less when a lock is due for renewal before then."""
        renewal = self._locks.next_renewal()
        if renewal is None:
            return self._poll_interval
        # Not below MIN_WAIT: a renewal that failed transiently is retried at that pace, not in a busy loop.
        return min(self._poll_interval, max(MIN_WAIT, (renewal - self._clock()).total_seconds()))

    # -- queries for the operator CLI ------------------------------------------------------------------------

    def events_for_trace(self, traceid: str) -> list[LoggedMessage]:
        """Every message of one trace (one partition query), in enqueue order."""
        messages = [LoggedMessage.from_entity(entity) for entity in self._tables.query(LOG, partition=traceid)]
        return sorted(messages, key=lambda message: message.sequence)

    def dead_letters(self) -> list[Delivery]:
        """Dead-lettered deliveries (subscription, message id, type, reason and description as Service Bus sets
        them, delivery count, the function's last error), oldest first."""
        entities = self._tables.query(DELIVERIES, where={"State": DEADLETTERED})
        deliveries = [Delivery.from_entity(entity) for entity in entities]
        return sorted(
            deliveries, key=lambda delivery: (delivery.settled_at or delivery.next_attempt, delivery.sequence)
        )

    def deliveries(self, message_id: str) -> list[Delivery]:
        """The delivery of one message to each subscription it was routed to."""
        found = []
        for path in self._subscriptions:
            try:
                found.append(Delivery.from_entity(self._tables.get(DELIVERIES, path, message_id)))
            except NotFound:
                continue
        return found


def _check(messages: Sequence[Message]) -> None:
    errors = []
    for number, fields in enumerate(messages):
        if not isinstance(fields.message_id, str) or not 0 < len(fields.message_id) <= MAX_MESSAGE_ID:
            errors.append(FieldError(f"messages[{number}].message_id", f"1-{MAX_MESSAGE_ID} characters required"))
    if errors:
        raise InvalidInput(errors)
