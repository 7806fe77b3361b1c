"""RuntimeScalingService: evaluate each promoted service's ScalingPolicy and apply the decision through Compute.

Evaluations come from the scaling timer (every service) and from HealthCheckCompleted events (one
service). Each one reads the live replica count, the metrics the policy's rules name and the persisted
``ScalingRecord`` (``controlplane.domain.scaling_record``), decides with ``controlplane.domain.scaling.decide``,
and then:

1. saves the new state *with the change it is about to make* (``pending``, leased to this evaluation for
   ``APPLY_LEASE``), conditional on the etag it read: of overlapping evaluations of one service (the timer,
   and HealthCheckCompleted deliveries running concurrently) only one proceeds, the others skip;
2. scales the serving revision and emits ScalingPolicyApplied (from, to, rule, metric values);
3. clears ``pending``.

An evaluation that finds a ``pending`` change whose lease is current skips: the change is being applied,
and applying it a second time could undo a newer one. A failure in 2 gives the lease back and a crash lets
it run out; the next evaluation then takes the change over (etag-guarded, so only one does) and finishes it
first. Scaling to a count and emitting an event with a fixed id are both safe to repeat, so no decision is
lost, and none is applied twice by evaluations that overlap. A service with a deployment in flight (it has a
claim, ``Claims.holder``) is skipped: its rollout owns the replicas.

A timer tick works on ``limits.concurrency`` services at once (``services.tick``): first it reads every
policy's metrics, then it evaluates each service with its readings, so table work never delays a metric read
past the deadline. It reads every service's record in one query and each environment's compute inventory once
for all its services, and the claims of the services being deployed once, after the metric reads
(``Claims.in_flight``); per service it makes a constant few point reads and writes, never a scan. A decision
that changes nothing (the usual tick) has nothing to apply and no event, so its record is written with the
others' after every evaluation, a hundred per transaction (``LoopStates.put_loop_states``); a decision that
changes the replicas, or is a violation, is saved before it is applied, as above. A metric read
still running at the tick's deadline is no reading: the service is skipped this tick, nothing decided or stored.
A service whose evaluation fails is reported in its outcome (and logged); the others are evaluated as usual.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from controlplane.domain import loop_events
from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.event_catalog import EventData, EventType
from controlplane.domain.events import Envelope, TraceContext, format_time, new_event
from controlplane.domain.loops import LoopRecord
from controlplane.domain.runtime import LiveWorkload, MetricKind, MetricReading
from controlplane.domain.scaling import decide
from controlplane.domain.scaling_record import Evaluation, LastDecision, ScalingChange, ScalingRecord
from controlplane.domain.shards import Shard
from controlplane.errors import ConcurrencyConflict, ControlPlaneError, NotFound
from controlplane.ports import (
    Catalog,
    Claims,
    Compute,
    Deployments,
    EventBus,
    EventLog,
    LoopStates,
    Metrics,
    ProcessedEvents,
)
from controlplane.services import journal
from controlplane.services.deployments import loop_view
from controlplane.services.tick import Tick, TickLimits
from controlplane.telemetry import traced

log = logging.getLogger(__name__)
LOOP = "scaling"
CONSUMER = "scaling"
PROCESSED_TTL = timedelta(days=1)
# How long the evaluation that decided a change owns applying it (scale + event: seconds; a minute is ample).
APPLY_LEASE = timedelta(minutes=1)
OVERTAKEN = "an overlapping evaluation decided first"


def asleep(loop_states: LoopStates, shard: Shard | None = None) -> frozenset[str]:
    """The ``environment/service`` keys (of ``shard``'s services) whose last scaling decision was zero replicas
    (asleep, not failing)."""
    records = loop_states.list_loop_states(LOOP, shard)
    return frozenset(r.key for r in records if ScalingRecord.from_dict(r.body).asleep)


@dataclass(frozen=True)
class Scaler:
    catalog: Catalog
    deployments: Deployments
    claims: Claims
    loop_states: LoopStates
    processed_events: ProcessedEvents
    event_log: EventLog
    bus: EventBus
    compute: Compute
    metrics: Metrics
    source: str
    limits: TickLimits = field(default_factory=TickLimits)

    def tick(self, now: datetime, shard: Shard | None = None) -> list[dict[str, Any]]:
        """Evaluate every service of the catalog (of one ``shard`` of it) that has a scaling policy,
        ``limits.concurrency`` at a time."""
        entries = self.catalog.list_catalog() if shard is None else self.catalog.list_shard(shard)
        inventories = {name: _Inventory(self.compute, name) for name in {entry.environment for entry in entries}}
        records = {record.key: record for record in self.loop_states.list_loop_states(LOOP, shard)}
        seed = format_time(now)
        with Tick(self.limits) as tick:
            # Every metric read first, concurrently: the deadline bounds network waits only, and the table work
            # that follows (slow on a loaded store) never pushes a read past it.
            readings = tick.each(entries, lambda entry: self._metric_readings(entry, tick), seed)
            read = dict(zip(map(_key, entries), readings, strict=True))
            # The services being deployed, in one query after the metric reads (rather than a point read each).
            deploying = self.claims.in_flight(now, shard.environment if shard else None)
            deferred: list[LoopRecord] = []
            outcomes = tick.each(
                entries,
                lambda entry: self._traced(
                    entry, now, None, _Reads(tick, inventories[entry.environment], records, read, deploying, deferred)
                ),
                seed,
            )
        # The decisions that change nothing, a hundred records per transaction; one an overlapping evaluation wrote
        # first is its (nothing was applied or emitted for it here).
        stored = self.loop_states.put_loop_states(deferred)
        lost = {record.key for record, written in zip(deferred, stored, strict=True) if written is None}
        return [_outcome(entry, outcome, _key(entry) in lost) for entry, outcome in zip(entries, outcomes, strict=True)]

    def _metric_readings(self, entry: CatalogEntry, tick: Tick) -> list[MetricReading] | None:
        """The readings of the metrics the service's policy names, if it has one that applies and they are read
        by the tick's deadline; None otherwise."""
        view = loop_view(self.deployments, entry)
        policy = view.scaling
        if policy is None or view.compute == "containerapps":
            return None
        kinds = {MetricKind(rule.metric) for rule in policy.rules}
        return tick.within(lambda: self.metrics.read(entry.environment, entry.service, kinds))

    def on_event(self, envelope: Envelope, now: datetime) -> dict[str, Any] | None:
        """React to a HealthCheckCompleted (other types are ignored); a duplicate delivery is dropped, and a
        failed one is forgotten, so that its redelivery evaluates again."""
        if envelope.type != EventType.HEALTH_CHECK_COMPLETED.value:
            return None
        if not self.processed_events.mark_processed(CONSUMER, envelope.id, envelope.time, now, PROCESSED_TTL):
            return {"skipped": f"duplicate delivery of {envelope.id}"}
        try:
            return self.evaluate(envelope.data["environment"], envelope.data["service"], now, envelope)
        except Exception:
            # The message is abandoned and delivered again at once: that delivery must evaluate, not skip.
            self.processed_events.forget_processed(CONSUMER, envelope.id, envelope.time, PROCESSED_TTL)
            raise

    def evaluate(self, environment: str, service: str, now: datetime, cause: Envelope | None = None) -> dict[str, Any]:
        """One evaluation of one service's policy (see the module docstring); a summary of what happened."""
        try:
            entry = self.catalog.get_catalog_entry(environment, service)
        except NotFound:
            return {"environment": environment, "service": service, "skipped": "not deployed"}
        with Tick(self.limits) as tick:
            return self._traced(entry, now, cause, _Reads(tick, _Inventory(self.compute, environment)))

    def _traced(self, entry: CatalogEntry, now: datetime, cause: Envelope | None, reads: _Reads) -> dict[str, Any]:
        traceid = cause.traceid if cause else None
        with traced("scaling evaluate", traceid, environment=entry.environment, service=entry.service) as span:
            outcome = self._evaluate(entry, now, cause, reads)
            span.set_attribute("scaling.outcome", str(outcome.get("reason") or outcome.get("skipped")))
            return outcome

    def _evaluate(self, entry: CatalogEntry, now: datetime, cause: Envelope | None, reads: _Reads) -> dict[str, Any]:
        environment, service = entry.environment, entry.service
        records, inventory = reads.records, reads.inventory
        where = {"environment": environment, "service": service}
        view = loop_view(self.deployments, entry)
        policy = view.scaling
        if policy is None:
            return {**where, "skipped": "no scaling policy"}
        if view.compute == "containerapps":
            return {**where, "skipped": "Container Apps revisions cannot be resized; their scale rules scale them"}
        if reads.deploying(entry, self.claims, now):
            return {**where, "skipped": "a deployment is in flight"}
        key = _key(entry)
        stored = self.loop_states.get_loop_state(LOOP, key) if records is None else records.get(key)
        record = stored or LoopRecord(LOOP, key, {})
        memory = ScalingRecord.from_dict(record.body)
        unfinished = memory.pending
        if unfinished:
            if unfinished.leased(now):
                return {**where, "skipped": f"the change decided at {format_time(unfinished.at)} is being applied"}
            try:
                leased = replace(unfinished, lease_until=now + APPLY_LEASE)
                record = self._store(record, replace(memory, pending=leased))
            except ConcurrencyConflict:
                return {**where, "skipped": "an overlapping evaluation took over the unfinished change"}
            record = self._finish(record)
            memory = ScalingRecord.from_dict(record.body)
            inventory = _Inventory(self.compute, environment)  # the tick's was read before this change applied
        serving = _serving(inventory.workloads(), entry)
        if serving is None:
            return {**where, "skipped": "no serving revision"}
        readings = reads.readings(key) if reads.metrics is not None else self._metric_readings(entry, reads.tick)
        if readings is None:
            return {**where, "skipped": "no metric readings by the tick's deadline"}
        decision = decide(policy, serving.replicas, readings, memory.state, now)
        traceid, causationid = _trace(cause, key, now)
        pending = None
        if decision.change:
            pending = ScalingChange(
                revision=serving.revision,
                from_replicas=serving.replicas,
                to_replicas=decision.replicas,
                rule=decision.rule,
                reason=decision.reason,
                metrics=dict(decision.metrics),
                at=now,
                event_id=journal.stable_id(LOOP, key, format_time(now), "applied"),
                traceid=traceid,
                causationid=causationid,
                lease_until=now + APPLY_LEASE,
            )
        evaluation = Evaluation(
            now,
            serving.replicas,
            decision.replicas,
            policy.min_replicas,
            policy.max_replicas,
            dict(decision.metrics),
            decision.rule,
            decision.reason,
        )
        decided = ScalingRecord(
            state=decision.state,
            pending=pending,
            last=LastDecision(now, decision.replicas, decision.reason),
            desired=decision.desired,
            last_applied=memory.last_applied,
            history=memory.with_evaluation(evaluation),
        )
        outcome = {**where, "replicas": decision.replicas, "changed": decision.change, "reason": decision.reason}
        if reads.deferred is not None and not pending and not decision.violated:
            reads.deferred.append(replace(record, body=decided.to_dict()))  # nothing to apply or emit: written later
            return outcome
        try:
            record = self._store(record, decided)
        except ConcurrencyConflict:
            return {**where, "skipped": OVERTAKEN}
        if pending:
            self._finish(record)
        if decision.violated:
            desired, limit = decision.desired, policy.max_replicas
            self._violated(environment, service, desired, limit, decision.reason, now, traceid, causationid)
        return outcome

    def _store(self, record: LoopRecord, memory: ScalingRecord) -> LoopRecord:
        """Save ``memory`` as the version ``record`` was read at; ConcurrencyConflict if it changed since."""
        return self.loop_states.put_loop_state(replace(record, body=memory.to_dict()))

    def _finish(self, record: LoopRecord) -> LoopRecord:
        """Apply a recorded change whose lease ``record`` holds, and emit its event; both are safe to repeat.
        On failure the lease is given back, so the next evaluation takes the change over at once."""
        memory = ScalingRecord.from_dict(record.body)
        pending = memory.pending
        assert pending is not None
        try:
            self._apply(record.key, pending)
        except Exception:
            with contextlib.suppress(ControlPlaneError):  # then the lease runs out instead
                self._store(record, replace(memory, pending=replace(pending, lease_until=None)))
            raise
        try:
            return self._store(record, replace(memory, pending=None, last_applied=pending))
        except ConcurrencyConflict:
            return self.loop_states.get_loop_state(LOOP, record.key) or record

    def _apply(self, key: str, change: ScalingChange) -> None:
        environment, service = key.split("/", 1)
        try:
            self.compute.scale(environment, service, change.revision, change.to_replicas)
        except NotFound:
            return  # the revision was replaced meanwhile: the change no longer applies
        applied = loop_events.scaling_applied(environment, service, change.to_dict(with_lease=False))
        self._emit(applied, change.event_id, environment, service, change.at, change.traceid, change.causationid)

    def _violated(
        self,
        environment: str,
        service: str,
        desired: int | None,
        max_replicas: int,
        reason: str,
        now: datetime,
        traceid: str,
        causationid: str | None,
    ) -> None:
        violated = loop_events.scaling_violated(environment, service, desired, max_replicas, reason)
        event_id = journal.stable_id(LOOP, environment, service, format_time(now), "violated")
        self._emit(violated, event_id, environment, service, now, traceid, causationid)

    def _emit(
        self,
        event: EventData,
        event_id: str,
        environment: str,
        service: str,
        at: datetime,
        traceid: str,
        causationid: str | None,
    ) -> None:
        envelope = new_event(
            event.type,
            event_id=event_id,
            source=self.source,
            subject=f"environments/{environment}/services/{service}",
            time=at,
            trace=TraceContext(traceid, f"{environment}/{service}"),
            data=event.data,
            causationid=causationid,
        )
        journal.record(self.event_log, self.bus, [envelope])


@dataclass(frozen=True)
class _Reads:
    """What an evaluation reads through its tick: the deadline-bound calls, its environment's inventory, every
    service's record as the tick read them (one query), the metric readings it took first (by service key) and the
    services in flight (one query of the claims); None: the evaluation reads its own."""

    tick: Tick
    inventory: _Inventory
    records: Mapping[str, LoopRecord] | None = None
    metrics: Mapping[str, list[MetricReading] | Exception | None] | None = None
    in_flight: Mapping[str, str] | None = None
    # The records of decisions that change nothing (no replicas to apply, no event), for the tick to write together
    # after every evaluation; None: each is written at once.
    deferred: list[LoopRecord] | None = None

    def deploying(self, entry: CatalogEntry, claims: Claims, now: datetime) -> bool:
        """Whether a deployment holds the service: as the tick read the claims, or a point read of its claim."""
        if self.in_flight is not None:
            return _key(entry) in self.in_flight
        return claims.holder(entry.environment, entry.service, now) is not None

    def readings(self, key: str) -> list[MetricReading] | None:
        """The tick's readings of the service (None: none by the deadline); a read that failed raises here."""
        assert self.metrics is not None
        readings = self.metrics[key]
        if isinstance(readings, Exception):
            raise readings
        return readings


class _Inventory:
    """An environment's compute inventory, read once on first use by whichever evaluation needs it first
    (services of one environment share it during a tick; one without a policy never reads it)."""

    def __init__(self, compute: Compute, environment: str) -> None:
        self._compute = compute
        self._environment = environment
        self._lock = threading.Lock()
        self._read: list[LiveWorkload] | None = None

    def workloads(self) -> list[LiveWorkload]:
        with self._lock:  # concurrent evaluations wait for the one read rather than each reading
            if self._read is None:
                self._read = self._compute.inventory(self._environment)
            return self._read


def _outcome(entry: CatalogEntry, outcome: dict[str, Any] | Exception, overtaken: bool) -> dict[str, Any]:
    """A tick's outcome for one service; an evaluation that raised is logged and reported as failed, one whose
    record an overlapping evaluation wrote first is reported as skipped."""
    if overtaken:
        return {"environment": entry.environment, "service": entry.service, "skipped": OVERTAKEN}
    if not isinstance(outcome, Exception):
        return outcome
    log.error("scaling: evaluating %s/%s failed", entry.environment, entry.service, exc_info=outcome)
    failed = f"{type(outcome).__name__}: {outcome}"
    return {"environment": entry.environment, "service": entry.service, "failed": failed}


def _key(entry: CatalogEntry) -> str:
    return f"{entry.environment}/{entry.service}"


def _serving(inventory: list[LiveWorkload], entry: CatalogEntry) -> LiveWorkload | None:
    """The managed revision of the service with the most traffic (the catalog's revision on a tie)."""
    ours = [w for w in inventory if w.managed and w.service == entry.service]
    return max(ours, key=lambda w: (w.traffic_percent, w.revision == entry.revision), default=None)


def _trace(cause: Envelope | None, key: str, now: datetime) -> tuple[str, str | None]:
    """The trace id and causation id: an evaluation caused by an event continues its trace; a timer's starts one."""
    if cause is not None:
        return cause.traceid, cause.id
    return journal.stable_trace(LOOP, key, format_time(now)), None
