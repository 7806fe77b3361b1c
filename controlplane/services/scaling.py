"""RuntimeScalingService: evaluate each promoted service's ScalingPolicy and apply the decision through Compute.

Evaluations come from the scaling timer (every service) and from HealthCheckCompleted events (one
service). Each one reads the live replica count, the metrics the policy's rules name and the persisted
``ScalingState``, decides with ``controlplane.domain.scaling.decide``, and then:

1. saves the new state *with the change it is about to make* (``pending``, leased to this evaluation for
   ``APPLY_LEASE``), conditional on the etag it read: of overlapping evaluations of one service (the timer,
   and HealthCheckCompleted deliveries running concurrently) only one proceeds, the others skip;
2. scales the serving revision and emits ScalingPolicyApplied (from, to, rule, metric values);
3. clears ``pending``.

An evaluation that finds a ``pending`` change whose lease is current skips: the change is being applied,
and applying it a second time could undo a newer one. A failure in 2 gives the lease back and a crash lets
it run out; the next evaluation then takes the change over (etag-guarded, so only one does) and finishes it
first. Scaling to a count and emitting an event with a fixed id are both safe to repeat, so no decision is
lost, and none is applied twice by evaluations that overlap. A service with a deployment in flight is
skipped: its rollout owns the replicas.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from controlplane.domain import loop_events
from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.event_catalog import EventData, EventType
from controlplane.domain.events import Envelope, TraceContext, format_time, new_event, parse_time
from controlplane.domain.loops import LoopRecord
from controlplane.domain.runtime import LiveWorkload
from controlplane.domain.scaling import ScalingState, decide
from controlplane.errors import ConcurrencyConflict, ControlPlaneError, NotFound
from controlplane.ports import Compute, EventBus, Metrics, StateStore
from controlplane.services import deployments, journal
from controlplane.telemetry import traced

LOOP = "scaling"
CONSUMER = "scaling"
PROCESSED_TTL = timedelta(days=1)
# How long the evaluation that decided a change owns applying it (scale + event: seconds; a minute is ample).
APPLY_LEASE = timedelta(minutes=1)


def scaled_to_zero(store: StateStore, environment: str, service: str) -> bool:
    """True when the scaling loop's last decision for the service was zero replicas (asleep, not failing)."""
    record = store.get_loop_state(LOOP, f"{environment}/{service}")
    return record is not None and (record.body.get("last") or {}).get("replicas") == 0


@dataclass(frozen=True)
class Scaler:
    store: StateStore
    bus: EventBus
    compute: Compute
    metrics: Metrics
    source: str

    def tick(self, now: datetime) -> list[dict[str, Any]]:
        """Evaluate every service of the catalog that has a scaling policy."""
        return [self._traced(entry, now, None) for entry in self.store.list_catalog()]

    def on_event(self, envelope: Envelope, now: datetime) -> dict[str, Any] | None:
        """React to a HealthCheckCompleted (other types are ignored); a duplicate delivery is dropped, and a
        failed one is forgotten, so that its redelivery evaluates again."""
        if envelope.type != EventType.HEALTH_CHECK_COMPLETED.value:
            return None
        if not self.store.mark_processed(CONSUMER, envelope.id, now, PROCESSED_TTL):
            return {"skipped": f"duplicate delivery of {envelope.id}"}
        try:
            return self.evaluate(envelope.data["environment"], envelope.data["service"], now, envelope)
        except Exception:
            # The message is abandoned and delivered again at once: that delivery must evaluate, not skip.
            self.store.forget_processed(CONSUMER, envelope.id)
            raise

    def evaluate(self, environment: str, service: str, now: datetime, cause: Envelope | None = None) -> dict[str, Any]:
        """One evaluation of one service's policy (see the module docstring); a summary of what happened."""
        try:
            entry = self.store.get_catalog_entry(environment, service)
        except NotFound:
            return {"environment": environment, "service": service, "skipped": "not deployed"}
        return self._traced(entry, now, cause)

    def _traced(self, entry: CatalogEntry, now: datetime, cause: Envelope | None) -> dict[str, Any]:
        traceid = cause.traceid if cause else None
        with traced("scaling evaluate", traceid, environment=entry.environment, service=entry.service) as span:
            outcome = self._evaluate(entry, now, cause)
            span.set_attribute("scaling.outcome", str(outcome.get("reason") or outcome.get("skipped")))
            return outcome

    def _evaluate(self, entry: CatalogEntry, now: datetime, cause: Envelope | None) -> dict[str, Any]:
        environment, service = entry.environment, entry.service
        where = {"environment": environment, "service": service}
        release = self.store.get_deployment(entry.deployment_id).release
        policy = release.service(service).scaling
        if policy is None:
            return {**where, "skipped": "no scaling policy"}
        if release.spec.environment.compute == "containerapps":
            return {**where, "skipped": "Container Apps revisions cannot be resized; their scale rules scale them"}
        if service in deployments.services_in_flight(self.store, environment, service):
            return {**where, "skipped": "a deployment is in flight"}
        key = f"{environment}/{service}"
        record = self.store.get_loop_state(LOOP, key) or LoopRecord(LOOP, key, {})
        unfinished = record.body.get("pending")
        if unfinished:
            if _leased(unfinished, now):
                return {**where, "skipped": f"the change decided at {unfinished['at']} is being applied"}
            try:
                record = self.store.put_loop_state(_leased_until(record, now + APPLY_LEASE))
            except ConcurrencyConflict:
                return {**where, "skipped": "an overlapping evaluation took over the unfinished change"}
            record = self._finish(record)
        serving = _serving(self.compute.inventory(environment), entry)
        if serving is None:
            return {**where, "skipped": "no serving revision"}
        readings = self.metrics.read(environment, service, {rule.metric for rule in policy.rules})
        state = ScalingState.from_dict(record.body.get("state") or {})
        decision = decide(policy, serving.replicas, readings, state, now)
        trace = _trace(cause, key, now)
        pending = None
        if decision.change:
            pending = {
                "revision": serving.revision,
                "from": serving.replicas,
                "to": decision.replicas,
                "rule": decision.rule,
                "reason": decision.reason,
                "metrics": dict(decision.metrics),
                "at": format_time(now),
                "eventId": journal.stable_id(LOOP, key, format_time(now), "applied"),
                "leaseUntil": format_time(now + APPLY_LEASE),
                **trace,
            }
        last = {"at": format_time(now), "replicas": decision.replicas, "reason": decision.reason}
        body = {
            "state": decision.state.to_dict(),
            "pending": pending,
            "last": last,
            "desired": decision.desired,
            "lastApplied": record.body.get("lastApplied"),
        }
        try:
            record = self.store.put_loop_state(replace(record, body=body))
        except ConcurrencyConflict:
            return {**where, "skipped": "an overlapping evaluation decided first"}
        if pending:
            self._finish(record)
        if decision.violated:
            self._violated(environment, service, decision.desired, policy.max_replicas, decision.reason, now, trace)
        return {**where, "replicas": decision.replicas, "changed": decision.change, "reason": decision.reason}

    def _finish(self, record: LoopRecord) -> LoopRecord:
        """Apply a recorded change whose lease ``record`` holds, and emit its event; both are safe to repeat.
        On failure the lease is given back, so the next evaluation takes the change over at once."""
        pending = record.body["pending"]
        try:
            self._apply(record.key, pending)
        except Exception:
            with contextlib.suppress(ControlPlaneError):  # then the lease runs out instead
                self.store.put_loop_state(_leased_until(record, None))
            raise
        try:
            applied = {key: value for key, value in pending.items() if key != "leaseUntil"}
            settled = {**record.body, "pending": None, "lastApplied": applied}
            return self.store.put_loop_state(replace(record, body=settled))
        except ConcurrencyConflict:
            return self.store.get_loop_state(LOOP, record.key) or record

    def _apply(self, key: str, pending: dict[str, Any]) -> None:
        environment, service = key.split("/", 1)
        try:
            self.compute.scale(environment, service, pending["revision"], pending["to"])
        except NotFound:
            return  # the revision was replaced meanwhile: the change no longer applies
        applied = loop_events.scaling_applied(environment, service, pending)
        self._emit(applied, pending["eventId"], environment, service, parse_time(pending["at"]), pending)

    def _violated(
        self,
        environment: str,
        service: str,
        desired: int | None,
        max_replicas: int,
        reason: str,
        now: datetime,
        trace: dict[str, Any],
    ) -> None:
        violated = loop_events.scaling_violated(environment, service, desired, max_replicas, reason)
        event_id = journal.stable_id(LOOP, environment, service, format_time(now), "violated")
        self._emit(violated, event_id, environment, service, now, trace)

    def _emit(
        self, event: EventData, event_id: str, environment: str, service: str, at: datetime, trace: dict[str, Any]
    ) -> None:
        envelope = new_event(
            event.type,
            event_id=event_id,
            source=self.source,
            subject=f"environments/{environment}/services/{service}",
            time=at,
            trace=TraceContext(trace["traceId"], f"{environment}/{service}"),
            data=event.data,
            causationid=trace.get("causationId"),
        )
        journal.record(self.store, self.bus, [envelope])


def _leased(pending: dict[str, Any], now: datetime) -> bool:
    """True while the evaluation that holds the change's lease may still be applying it."""
    lease = pending.get("leaseUntil")  # None: given back; absent: written before leases existed
    return lease is not None and now < parse_time(lease)


def _leased_until(record: LoopRecord, until: datetime | None) -> LoopRecord:
    """The record with its unfinished change leased to the caller until ``until`` (None: given back)."""
    lease = format_time(until) if until else None
    return replace(record, body={**record.body, "pending": {**record.body["pending"], "leaseUntil": lease}})


def _serving(inventory: list[LiveWorkload], entry: CatalogEntry) -> LiveWorkload | None:
    """The managed revision of the service with the most traffic (the catalog's revision on a tie)."""
    ours = [w for w in inventory if w.managed and w.service == entry.service]
    return max(ours, key=lambda w: (w.traffic_percent, w.revision == entry.revision), default=None)


def _trace(cause: Envelope | None, key: str, now: datetime) -> dict[str, Any]:
    """An evaluation caused by an event continues its trace; a timer's starts one."""
    if cause is not None:
        return {"traceId": cause.traceid, "causationId": cause.id}
    return {"traceId": journal.stable_trace(LOOP, key, format_time(now)), "causationId": None}
