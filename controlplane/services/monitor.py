"""The failure monitor: watch every promoted service, roll back sustained degradation, raise incidents.

Each tick observes each service of the catalog once (``observe``) and moves its ``Watch`` along
``Healthy -> Degraded -> Healthy | Rollback -> Restoring -> Healthy | Incident``:

- Healthy and Degraded services are probed. Each check is reported (HealthCheckCompleted; the scaling loop
  consumes it too) when it fails or the service is Degraded; a healthy service's passing check changes nothing and
  is reported as a heartbeat, once every ``heartbeat`` (``CONTROLPLANE_MONITOR_HEARTBEAT_SECONDS``), as the kubelet
  records an event for a failed probe and none for a passing one.
- Rollback: the last Completed deployment before the watched one is deployed again, in the episode's
  trace and pre-approved; the degraded image is quarantined so the drift loop never brings it back.
  ``observe`` returns that deployment as a ``Restore`` for the caller to start its orchestration.
- Restoring: the rollback deployment's outcome decides: Completed (its gate passed) -> Healthy, watching
  it; anything else -> Incident, and RuntimeIncidentRaised carries the episode's envelope chain.
- A newly Completed deployment of the service starts a fresh watch (an incident is resolved by a deploy).

Every change is saved with the etag it was read at, so two overlapping ticks cannot both roll back.

Traces: the checks of an environment's healthy services in one tick share the tick's trace (``tick_trace``); a
failed check opens an episode with a trace of its own (``episode_trace``), which every later event of the episode
shares, the rollback deployment included, so ``replay <traceid>`` and an incident's chain tell one service's story.

A tick observes ``limits.concurrency`` services at once (``services.tick``). It reads every watch and the scaling
loop's records in one query each, after its probes the claims of the services being deployed in one more
(``Claims.in_flight``); what it needs of each service's release is kept with its catalog entry (``LoopView``), so it
reads no release and scans nothing. It probes every watched service first, then does the table work with the
readings, so a slow store never pushes a probe past the deadline. Every service's events are recorded in one journal
record (the event log writes them a hundred per transaction) before any watch is written (a hundred per transaction
too), so a crash in between leaves no change without its events and the next tick decides again. A probe still
running at the tick's deadline is no reading: the watch stays as it was (no check event, no condition change), so a
hung endpoint neither delays the other services nor counts as a failed check; the next tick probes it again. A
service whose work fails is logged and the others' outcomes are kept. ``tick`` takes a ``Shard`` to observe one key
range of the catalog (a fanned-out tick's activity, ``orchestrators/loop_ticks.py``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from controlplane.domain import deployment_events, loop_events
from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.event_catalog import EventData, EventType
from controlplane.domain.events import Envelope, TraceContext, format_time, new_event
from controlplane.domain.failure import ServiceCondition, Watch, after_check
from controlplane.domain.health import HealthReport
from controlplane.domain.loops import LoopRecord, QuarantinedImage
from controlplane.domain.shards import Shard
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.errors import NotFound
from controlplane.ports import (
    Catalog,
    Claims,
    Deployments,
    EventBus,
    EventLog,
    HealthProbe,
    LoopStates,
    Quarantine,
)
from controlplane.services import journal, scaling
from controlplane.services.deployments import (
    NotRollbackable,
    ServiceBusy,
    accept,
    loop_view,
    previous_completed,
)
from controlplane.services.tick import Tick, TickLimits
from controlplane.telemetry import traced

log = logging.getLogger(__name__)
LOOP = "monitor"
# How often a healthy service's passing check is reported (HealthCheckCompleted): a check that changes nothing is
# not news, and 1,000 services probed every 10 s would otherwise put 100 events a second on the bus and in the log.
HEARTBEAT = timedelta(minutes=5)
C = ServiceCondition
# One tick can emit a check, up to three condition changes and an incident at one ``now``; a microsecond
# apart each, they keep their causal order in the event log (ordered by time).
_ORDER = {
    EventType.HEALTH_CHECK_COMPLETED.value: 0,
    C.DEGRADED.value: 1,
    C.HEALTHY.value: 1,
    C.ROLLBACK.value: 2,
    C.RESTORING.value: 3,
    C.INCIDENT.value: 4,
    EventType.RUNTIME_INCIDENT_RAISED.value: 5,
}


@dataclass(frozen=True)
class Restore:
    """A rollback deployment the caller must run (start its orchestration; starting it twice is harmless)."""

    deployment_id: str
    start: DeploymentStart

    def to_dict(self) -> dict[str, Any]:
        return {"deploymentId": self.deployment_id, "start": self.start.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Restore:
        return cls(str(data["deploymentId"]), DeploymentStart.from_dict(data["start"]))


@dataclass(frozen=True)
class Observed:
    """One service's observation in a tick: the events it emits, the watch to write (None: unchanged; with the
    etag it was read at) and the rollback deployment to run, if any."""

    events: list[Envelope]
    write: LoopRecord | None
    restore: Restore | None


@dataclass(frozen=True)
class TickReads:
    """What a tick reads once for all services: every watch (with its etag) by key, and the keys of the
    services the scaling loop put to sleep at zero replicas; after the probes, the services being deployed."""

    watches: Mapping[str, LoopRecord]
    asleep: frozenset[str]
    deploying: Mapping[str, str] = field(default_factory=dict)  # Claims.in_flight, read after the probes


@dataclass(frozen=True)
class Monitor:
    catalog: Catalog
    deployments: Deployments
    loop_states: LoopStates
    quarantine: Quarantine
    claims: Claims
    event_log: EventLog
    bus: EventBus
    health: HealthProbe
    source: str
    degraded_for: timedelta
    limits: TickLimits = field(default_factory=TickLimits)
    heartbeat: timedelta = HEARTBEAT

    def tick(self, now: datetime, shard: Shard | None = None) -> list[Restore]:
        """Observe every service of the catalog (of one ``shard`` of it), ``limits.concurrency`` at a time; the
        rollback deployments to run."""
        entries = self.catalog.list_catalog() if shard is None else self.catalog.list_shard(shard)
        watches = self.loop_states.list_loop_states(LOOP, shard)
        known = TickReads({record.key: record for record in watches}, scaling.asleep(self.loop_states, shard))
        seed = format_time(now)
        with Tick(self.limits) as tick:
            # Every probe first: the deadline bounds network waits only, and the table work that follows (slow on a
            # loaded store) never pushes a probe past it.
            readings = tick.each(entries, lambda entry: self._reading(entry, now, tick, known), seed)
            probed = [(entry, reading) for entry, reading in zip(entries, readings, strict=True)]
            # Read after the probes: a rollout claims its services before it touches them, so a claim made since
            # a probe began is seen here (one query however many services; a point read each would be 1,000).
            known = replace(known, deploying=self.claims.in_flight(now, shard.environment if shard else None))
            observed = tick.each(probed, lambda pair: self._observe_read(pair[0], now, known, pair[1]), seed)
            decided = [outcome for _, outcome in _succeeded(entries, observed) if outcome is not None]
            # The tick's events in one journal record (transactions of a hundred rows rather than a few writes
            # per event), before any watch is written: a crash in between leaves no change without its events.
            journal.record(self.event_log, self.bus, [event for done in decided for event in done.events])
        return self._commit(decided)

    def _commit(self, observed: Sequence[Observed]) -> list[Restore]:
        """Write the watches as the observations left them (a hundred per transaction): the restores of those
        written or unchanged. A watch an overlapping tick wrote first is left to it, restore and all."""
        writes = [done.write for done in observed if done.write is not None]
        stored = iter(self.loop_states.put_loop_states(writes))
        restores = []
        for done in observed:
            if done.write is not None and next(stored) is None:
                continue  # an overlapping tick decided first
            if done.restore is not None:
                restores.append(done.restore)
        return restores

    def _observe_read(
        self, entry: CatalogEntry, now: datetime, known: TickReads, reading: HealthReport | Exception | None
    ) -> Observed | None:
        if isinstance(reading, Exception):
            raise reading
        return self.observe(entry, now, known, reading)

    def _reading(self, entry: CatalogEntry, now: datetime, tick: Tick, known: TickReads) -> HealthReport | None:
        """The service's probe report if it is watched (Healthy or Degraded, not asleep) and the probe answered
        by the tick's deadline; None otherwise."""
        _, watch = _watch(entry, known)
        if watch.condition not in (C.HEALTHY, C.DEGRADED) or _key(entry) in known.asleep:
            return None
        path = loop_view(self.deployments, entry).health_path
        traceid = watch.traceid or tick_trace(entry.environment, now)
        with traced("monitor check", traceid, environment=entry.environment, service=entry.service) as span:
            report = tick.within(lambda: self._probe(entry, path))
            span.set_attribute("health.reading", "none by the deadline" if report is None else report.status.value)
        return report

    def observe(
        self, entry: CatalogEntry, now: datetime, known: TickReads, reading: HealthReport | None
    ) -> Observed | None:
        """Where the tick's ``reading`` (None: no reading this tick) moves the service's watch, with the events
        to record before the watch is written; None when the service is not watched this tick."""
        record, watch = _watch(entry, known)
        events: list[Envelope] = []
        if watch.condition is C.RESTORING:
            updated, restore = self._restoring(entry, watch, now, events)
        elif watch.condition in (C.HEALTHY, C.DEGRADED):
            if _key(entry) in known.asleep or self._deploying(entry, known):
                return None  # a rollout owns the service now (its reading is dropped), or it sleeps at zero replicas
            updated, restore = self._checked(entry, watch, now, reading, events), None
            if updated.condition is C.ROLLBACK:
                updated, restore = self._roll_back(entry, updated, now, events)
        else:
            return None  # Incident: an operator (or the next deployment) moves it on
        changed = record.etag is None or updated != Watch.from_dict(record.body)
        return Observed(events, replace(record, body=updated.to_dict()) if changed else None, restore)

    # -- conditions ----------------------------------------------------------------------------------------------
    def _checked(
        self, entry: CatalogEntry, watch: Watch, now: datetime, report: HealthReport | None, events: list[Envelope]
    ) -> Watch:
        """The watch after the service's check: unchanged when there was no reading."""
        if report is None:
            return watch
        passed = report.passed(loop_view(self.deployments, entry).allow_degraded)
        if passed and watch.condition is C.HEALTHY:
            return self._still_healthy(entry, watch, now, report, events)
        traceid = watch.traceid or episode_trace(entry, now)
        events.append(self._check_event(entry, traceid, now, report))
        checked = replace(watch, traceid=traceid, reported_at=now)
        updated = after_check(checked, passed, report.summary(), now, self.degraded_for)
        self._changed(entry, watch, updated, now, events)
        return updated

    def _still_healthy(
        self, entry: CatalogEntry, watch: Watch, now: datetime, report: HealthReport, events: list[Envelope]
    ) -> Watch:
        """A passing check of a healthy service changes nothing, so it is reported as a heartbeat: once every
        ``heartbeat`` per service (every check when it is zero). A new watch's first report is due at a point of the
        interval set by the service's key, so a tick reports about a tick's share of the services, not all at once."""
        if not self.heartbeat:
            events.append(self._check_event(entry, tick_trace(entry.environment, now), now, report))
            return watch
        if watch.reported_at is None:
            return replace(watch, reported_at=now - self.heartbeat * _stagger(entry))
        if now - watch.reported_at < self.heartbeat:
            return watch
        events.append(self._check_event(entry, tick_trace(entry.environment, now), now, report))
        return replace(watch, reported_at=now)

    def _roll_back(
        self, entry: CatalogEntry, watch: Watch, now: datetime, events: list[Envelope]
    ) -> tuple[Watch, Restore | None]:
        """Degraded too long: deploy the last Completed release again, pre-approved, in the episode's trace."""
        self.quarantine.quarantine(
            QuarantinedImage(entry.environment, entry.service, entry.image, watch.reason, now, entry.deployment_id)
        )
        try:
            previous = previous_completed(self.deployments, entry.deployment_id)
        except (NotFound, NotRollbackable) as missing:
            restoring = watch.moved(C.RESTORING, now, f"nothing to restore: {missing}")
            self._changed(entry, watch, restoring, now, events)
            return self._incident(entry, restoring, now, restoring.reason, events), None
        key = f"monitor/{entry.environment}/{entry.service}/{watch.traceid}"
        try:
            accepted = accept(self.deployments, self.claims, previous.release, now, key, watch.traceid)
        except ServiceBusy as busy:
            return replace(watch, reason=f"rollback waits: {busy}"), None
        restoring = watch.moved(
            C.RESTORING,
            now,
            f"restoring deployment {previous.id} as {accepted.deployment.id}",
            restore_deployment_id=accepted.deployment.id,
        )
        self._changed(entry, watch, restoring, now, events)
        return restoring, self._restore(accepted.deployment, entry)

    def _restoring(
        self, entry: CatalogEntry, watch: Watch, now: datetime, events: list[Envelope]
    ) -> tuple[Watch, Restore | None]:
        assert watch.restore_deployment_id is not None
        restore = self.deployments.get_deployment(watch.restore_deployment_id)
        if not restore.is_terminal:
            return watch, self._restore(restore, entry)  # started again if the first start was lost
        if restore.state is DeploymentState.COMPLETED:
            healthy = watch.moved(C.HEALTHY, now, f"restored by {restore.id}; its health gate passed")
            self._changed(entry, watch, healthy, now, events)
            return Watch(restore.id, reason=healthy.reason), None
        reason = f"restore {restore.id} ended {restore.state.value}: {restore.transitions[-1].reason}"
        return self._incident(entry, watch, now, reason, events), None

    def _incident(self, entry: CatalogEntry, watch: Watch, now: datetime, reason: str, events: list[Envelope]) -> Watch:
        incident = watch.moved(C.INCIDENT, now, reason)
        self._changed(entry, watch, incident, now, events)
        # The episode as logged, and what this observation emitted (recorded with the tick's events).
        episode = self.event_log.events_for_trace(watch.traceid)
        logged = {envelope.id for envelope in episode}
        episode += [envelope for envelope in events if envelope.traceid == watch.traceid and envelope.id not in logged]
        raised = deployment_events.incident_raised(
            incident_id=f"incident-{journal.stable_id(watch.traceid, 'incident')[:12]}",
            reason=reason,
            environment=entry.environment,
            services=[entry.service],
            deployment_id=entry.deployment_id,
            traceid=watch.traceid,
            chain=[envelope.to_dict() for envelope in episode],
        )
        events.append(self._envelope(raised, entry, watch.traceid, now))
        return incident

    # -- helpers -------------------------------------------------------------------------------------------------
    def _probe(self, entry: CatalogEntry, path: str) -> HealthReport:
        return self.health.probe(entry.environment, entry.service, entry.revision, path)

    def _deploying(self, entry: CatalogEntry, known: TickReads) -> bool:
        return _key(entry) in known.deploying

    def _restore(self, deployment: Deployment, entry: CatalogEntry) -> Restore:
        why = f"failure monitor: {entry.environment}/{entry.service} degraded"
        return Restore(deployment.id, DeploymentStart.of(deployment, pre_approved=why))

    def _changed(self, entry: CatalogEntry, before: Watch, after: Watch, now: datetime, events: list[Envelope]) -> None:
        if before.condition is after.condition:
            return
        changed = loop_events.condition_changed(
            entry.environment,
            entry.service,
            before.condition.value,
            after.condition.value,
            after.reason,
            entry.deployment_id,
        )
        traceid = after.traceid or before.traceid
        events.append(self._envelope(changed, entry, traceid, now, after.condition.value))

    def _check_event(self, entry: CatalogEntry, traceid: str, now: datetime, report: HealthReport) -> Envelope:
        checked = deployment_events.health_check_completed(entry.environment, entry.service, entry.revision, report)
        return self._envelope(checked, entry, traceid, now)

    def _envelope(
        self, event: EventData, entry: CatalogEntry, traceid: str, now: datetime, discriminator: str = ""
    ) -> Envelope:
        return new_event(
            event.type,
            event_id=journal.stable_id(
                LOOP, traceid, entry.environment, entry.service, event.type.value, format_time(now), discriminator
            ),
            source=self.source,
            subject=f"environments/{entry.environment}/services/{entry.service}",
            time=now + timedelta(microseconds=_ORDER.get(discriminator or event.type.value, 0)),
            trace=TraceContext(traceid, f"{entry.environment}/{entry.service}"),
            data=event.data,
        )


Outcome = TypeVar("Outcome")


def _succeeded(
    entries: Sequence[CatalogEntry], outcomes: Sequence[Outcome | Exception]
) -> list[tuple[CatalogEntry, Outcome]]:
    """The services whose work succeeded, with its outcome; each failure is logged (the others are kept)."""
    succeeded = []
    for entry, outcome in zip(entries, outcomes, strict=True):
        if isinstance(outcome, Exception):
            log.error("failure monitor: observing %s/%s failed", entry.environment, entry.service, exc_info=outcome)
        else:
            succeeded.append((entry, outcome))
    return succeeded


def tick_trace(environment: str, now: datetime) -> str:
    """The trace of one tick's checks of an environment's healthy services: a timer run is one flow (its
    ``correlationid`` names each service), and its events share a partition of the event log, so they are logged
    and purged a hundred per transaction rather than one partition each."""
    return journal.stable_trace(LOOP, environment, format_time(now))


def episode_trace(entry: CatalogEntry, now: datetime) -> str:
    """The trace of a degradation episode, begun by the failed check that opens it: its own, so an incident's
    chain (the trace's events) holds only what happened to this service."""
    return journal.stable_trace(LOOP, entry.environment, entry.service, format_time(now))


def _stagger(entry: CatalogEntry) -> float:
    """The service's point in the heartbeat interval, in [0, 1): fixed by its key, spread evenly over services."""
    digest = hashlib.sha256(_key(entry).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _key(entry: CatalogEntry) -> str:
    return f"{entry.environment}/{entry.service}"


def _watch(entry: CatalogEntry, known: TickReads) -> tuple[LoopRecord, Watch]:
    """The service's stored watch record (a fresh one if none) and the watch to go on from."""
    record = known.watches.get(_key(entry)) or LoopRecord(LOOP, _key(entry), Watch(entry.deployment_id).to_dict())
    watch = Watch.from_dict(record.body)
    if watch.deployment_id != entry.deployment_id and watch.condition is not C.RESTORING:
        watch = Watch(entry.deployment_id)  # a new deployment completed: watch it afresh
    return record, watch
