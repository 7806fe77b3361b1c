"""Retention: what the stores keep, and one timer run that deletes the rest within a budget.

    store               kept                                                      deleted by
    event log + audit   ``events`` (whole UTC days: at most a day more),          day partitions of the audit index
                        and every event still pending publish
    processed ids       each consumer's duplicate window (its ttl)                expiry-hour partitions
    deployments         ``deployments`` after they finished; always the unfinished, the index's every-deployment
                        the catalog's, the two newest Completed of each service   partition, from the horizon on
                        and the ones a finding or a restore is working with
    loop history        ``loop_history`` of the scaling loop's evaluations        the evaluations in its rows
                        (the rows themselves are the loops' current state)

A run takes the stores in turns, one batch of each per round, until every store is done or the run's budget
(seconds) is spent: a store with much to delete never starves the others, and what a run leaves (``complete``
False) the next run goes on with. Every batch is small (hundreds of rows), so a run ends within a batch of its
budget.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from controlplane.domain.failure import Watch
from controlplane.domain.findings import FindingStatus
from controlplane.domain.scaling_record import ScalingRecord
from controlplane.errors import ConcurrencyConflict
from controlplane.ports import Catalog, DeploymentRetention, EventLog, Findings, LoopStates, ProcessedEvents
from controlplane.services import monitor, scaling

PURGE_BATCH = 500  # events or processed ids a batch: one audit day's or expiry hour's rows, 100 a transaction
DEPLOYMENT_BATCH = 200  # deployments a batch: each its partition, its summaries and a read of its services' floor
LOOP_BATCH = 500  # scaling records rewritten a batch (a batch reads them all: one partition)


@dataclass(frozen=True)
class Retention:
    """How long each store keeps what it holds (the processed ids keep their consumers' own ttl)."""

    events: timedelta
    deployments: timedelta
    loop_history: timedelta


@dataclass(frozen=True)
class PurgeOutcome:
    """One store's part of a run: what it deleted (events, processed ids, deployments, loop evaluations), and
    whether it is done (False: the next run goes on)."""

    deleted: int
    complete: bool


@dataclass
class Budget:
    """How long a run may go on: it starts no batch once ``seconds`` have passed on ``clock``."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float | None = None

    def left(self) -> bool:
        now = self.clock()
        if self.started is None:
            self.started = now
        return now - self.started < self.seconds


@dataclass(frozen=True)
class RetentionStores:
    """The ports a run deletes through, and those it reads to know which deployments are in use."""

    event_log: EventLog
    processed_events: ProcessedEvents
    deployment_retention: DeploymentRetention
    catalog: Catalog
    findings: Findings
    loop_states: LoopStates


# A store's batch: (rows deleted, done).
Batch = Callable[[], tuple[int, bool]]


def run_retention(
    stores: RetentionStores, now: datetime, retention: Retention, budget: Budget
) -> dict[str, PurgeOutcome]:
    """One run over every store, batch by batch in turns while ``budget`` lasts; what each store deleted."""
    batches: dict[str, Batch] = {
        "events": _events(stores.event_log, now - retention.events),
        "processedEvents": _processed(stores.processed_events, now),
        "deployments": _deployments(stores, now - retention.deployments),
        "loopHistory": _loop_history(stores.loop_states, now - retention.loop_history),
    }
    deleted = dict.fromkeys(batches, 0)
    pending = list(batches)
    while pending and budget.left():
        for name in list(pending):
            if not budget.left():
                break
            count, done = batches[name]()
            deleted[name] += count
            if done:
                pending.remove(name)
    return {name: PurgeOutcome(deleted[name], name not in pending) for name in batches}


def report(outcomes: dict[str, PurgeOutcome]) -> dict[str, Any]:
    """A run's outcome as the structured log line's fields: deleted per store, and the stores not done."""
    return {
        "deleted": {name: outcome.deleted for name, outcome in outcomes.items()},
        "unfinished": sorted(name for name, outcome in outcomes.items() if not outcome.complete),
    }


def _events(event_log: EventLog, horizon: datetime) -> Batch:
    def batch() -> tuple[int, bool]:
        deleted = event_log.purge_events(horizon, PURGE_BATCH)
        return deleted, deleted < PURGE_BATCH

    return batch


def _processed(processed_events: ProcessedEvents, now: datetime) -> Batch:
    def batch() -> tuple[int, bool]:
        deleted = processed_events.purge_processed(now, PURGE_BATCH)
        return deleted, deleted < PURGE_BATCH

    return batch


def _deployments(stores: RetentionStores, horizon: datetime) -> Batch:
    """Batches of expired deployments, keeping those something still reads (read once, at the first batch)."""
    kept = functools.cache(lambda: in_use(stores))

    def batch() -> tuple[int, bool]:
        deleted = stores.deployment_retention.purge_deployments(horizon, kept(), DEPLOYMENT_BATCH)
        return deleted, deleted < DEPLOYMENT_BATCH

    return batch


def in_use(stores: RetentionStores) -> frozenset[str]:
    """The deployments the loops read whatever their age: the catalog's (what each service runs), the corrective
    deployment of a finding being remediated, and what the failure monitor watches or is restoring with."""
    ids = {entry.deployment_id for entry in stores.catalog.list_catalog()}
    ids |= {f.deployment_id for f in stores.findings.list_findings(FindingStatus.REMEDIATING) if f.deployment_id}
    for record in stores.loop_states.list_loop_states(monitor.LOOP):
        watch = Watch.from_dict(record.body)
        ids |= {watch.deployment_id, *([watch.restore_deployment_id] if watch.restore_deployment_id else [])}
    return frozenset(ids)


def _loop_history(loop_states: LoopStates, horizon: datetime) -> Batch:
    """The scaling records' evaluations before ``horizon`` dropped (each record rewritten as it was read: one the
    loop wrote meanwhile is left to the next run); the records themselves stay, they are the loop's state."""

    def batch() -> tuple[int, bool]:
        trimmed = dropped = 0
        for record in loop_states.list_loop_states(scaling.LOOP):
            memory = ScalingRecord.from_dict(record.body)
            recent = tuple(evaluation for evaluation in memory.history if evaluation.at >= horizon)
            if len(recent) == len(memory.history):
                continue
            try:
                loop_states.put_loop_state(replace(record, body=replace(memory, history=recent).to_dict()))
            except ConcurrencyConflict:
                continue
            trimmed += 1
            dropped += len(memory.history) - len(recent)
            if trimmed == LOOP_BATCH:
                return dropped, False
        return dropped, True

    return batch
