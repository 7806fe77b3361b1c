"""Retention: one run deletes what each store keeps no longer, store by store in turns within its budget, keeps
what is still in use, and the timer runs it with the configured retentions and logs one structured line."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.config import InvalidSettings, Settings
from controlplane.domain.audit import EventQuery
from controlplane.domain.failure import ServiceCondition, Watch
from controlplane.domain.findings import FindingStatus
from controlplane.domain.loops import LoopRecord
from controlplane.domain.scaling_record import Evaluation, ScalingRecord
from controlplane.ports import EventLog
from controlplane.services import monitor, retention, scaling
from controlplane.testing.memory_documents import memory_stores
from tests import product_app
from tests.builders import COMPLETED_PATH, T0, catalog_entry, deployment, finding, walked
from tests.contracts.records.event_log import _event

DAY = timedelta(days=1)
POLICY = retention.Retention(events=30 * DAY, deployments=30 * DAY, loop_history=7 * DAY)


def _logged(event_log: EventLog, count: int, at: datetime, prefix: str) -> None:
    events = [_event(f"{prefix}-{number}", at + timedelta(seconds=number)) for number in range(count)]
    event_log.append_events(events)
    event_log.mark_published(events)


def _kept(event_log: EventLog) -> list[str]:
    page = event_log.query_events(EventQuery(since=T0 - 100 * DAY, until=T0 + DAY, limit=200))
    return sorted(event.id for event in page.events)


def _over(stores: Stores) -> retention.RetentionStores:
    return retention.RetentionStores(
        stores.event_log,
        stores.processed_events,
        stores.deployment_retention,
        stores.catalog,
        stores.findings,
        stores.loop_states,
    )


def _run(stores: Stores, budget: retention.Budget | None = None) -> dict[str, retention.PurgeOutcome]:
    return retention.run_retention(_over(stores), T0, POLICY, budget or retention.Budget(3600))


def _ticks(step: float = 1.0) -> retention.Budget:
    """A budget of 5 on a clock that moves 1 a look: a run looks 6 times, so it takes a round and a bit."""
    clock = itertools.count(0, step)
    return retention.Budget(5, clock=lambda: float(next(clock)))


def test_a_run_deletes_expired_event_days_and_keeps_pending_and_recent_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "PURGE_BATCH", 4)
    stores = memory_stores()
    _logged(stores.event_log, 9, T0 - 40 * DAY, "old")
    _logged(stores.event_log, 2, T0 - 29 * DAY, "kept")
    pending = _event("pending", T0 - 40 * DAY)
    stores.event_log.append_events([pending])

    outcomes = _run(stores)

    assert outcomes["events"] == retention.PurgeOutcome(deleted=9, complete=True)
    assert _kept(stores.event_log) == ["kept-0", "kept-1", "pending"]
    assert [event.id for event in stores.event_log.pending_events(10)] == ["pending"]


def test_stores_take_turns_and_a_run_out_of_budget_leaves_the_rest_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retention, "PURGE_BATCH", 2)
    stores = memory_stores()
    _logged(stores.event_log, 6, T0 - 40 * DAY, "old")
    for number in range(6):
        stores.processed_events.mark_processed("c", f"e{number}", T0 - DAY, T0 - DAY, timedelta(hours=1))

    first = _run(stores, _ticks())

    # One batch of each before the budget ran out: neither store starved the other.
    assert (first["events"], first["processedEvents"]) == (retention.PurgeOutcome(2, False),) * 2
    assert retention.report(first)["unfinished"] == ["events", "processedEvents"]
    second = _run(stores)
    assert (second["events"].deleted, second["processedEvents"].deleted) == (4, 4)
    assert all(outcome.complete for outcome in second.values())
    assert _kept(stores.event_log) == []


def test_deployments_in_use_are_kept_whatever_their_age() -> None:
    stores = memory_stores()
    for number, service in enumerate(["orders", "orders", "orders", "orders", "payments", "payments", "payments"]):
        done = walked(deployment(f"d{number}", services=(service,), at=T0 - (90 - number) * DAY), COMPLETED_PATH)
        stores.deployments.create_deployment(done)
    stores.catalog.put_catalog_entry(replace(catalog_entry(service="orders"), deployment_id="d0"))
    stores.findings.create_finding(replace(finding(status=FindingStatus.REMEDIATING), deployment_id="d1"))
    restoring = Watch("d2", ServiceCondition.RESTORING, T0, restore_deployment_id="d4")
    stores.loop_states.put_loop_state(LoopRecord(monitor.LOOP, "dev/payments", restoring.to_dict()))

    assert _run(stores)["deployments"] == retention.PurgeOutcome(deleted=0, complete=True)
    # d0 the catalog's, d1 a finding's, d2 watched, d4 a restore; d3 and d5, d6 the newest Completed of each service.
    stores.catalog.put_catalog_entry(replace(catalog_entry(service="orders"), deployment_id="d3"))
    stores.findings.save_finding(replace(stores.findings.get_finding("f-1"), status=FindingStatus.REMEDIATED))
    assert _run(stores)["deployments"] == retention.PurgeOutcome(deleted=2, complete=True)
    remaining = {d.id for d in stores.deployments.list_deployments()}
    assert remaining == {"d2", "d3", "d4", "d5", "d6"}


def _evaluation(at: datetime) -> Evaluation:
    return Evaluation(at, 2, 2, 1, 5, {"cpu": 40.0}, None, "within bounds")


def test_old_scaling_evaluations_go_and_the_loops_state_rows_stay() -> None:
    stores = memory_stores()
    old, recent = _evaluation(T0 - 10 * DAY), _evaluation(T0 - DAY)
    frozen = ScalingRecord(history=(old, old, recent))
    stores.loop_states.put_loop_state(LoopRecord(scaling.LOOP, "dev/orders", frozen.to_dict()))
    stores.loop_states.put_loop_state(LoopRecord(scaling.LOOP, "dev/payments", ScalingRecord().to_dict()))
    watch = LoopRecord(monitor.LOOP, "dev/orders", Watch("d1").to_dict())
    stores.loop_states.put_loop_state(watch)

    assert _run(stores)["loopHistory"] == retention.PurgeOutcome(deleted=2, complete=True)

    stored = stores.loop_states.get_loop_state(scaling.LOOP, "dev/orders")
    assert stored is not None and ScalingRecord.from_dict(stored.body) == replace(frozen, history=(recent,))
    assert [r.key for r in stores.loop_states.list_loop_states(scaling.LOOP)] == ["dev/orders", "dev/payments"]
    assert stores.loop_states.get_loop_state(monitor.LOOP, "dev/orders") == watch


@pytest.fixture
def wired() -> Iterator[Stores]:
    ports = fake_ports()
    use_ports(ports)
    yield ports.store
    use_ports(None)


def test_the_timer_runs_with_the_configured_retention_and_logs_what_it_deleted(
    wired: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    expired, recent = _event("expired", now - 92 * DAY), _event("recent", now - 88 * DAY)
    wired.event_log.append_events([expired, recent])
    wired.event_log.mark_published([expired, recent])
    handler = product_app.index().get("event_retention_timer").handler

    with caplog.at_level(logging.INFO, logger="triggers.retention"):
        handler(None)

    assert [event.id for event in wired.event_log.events_for_trace(recent.traceid)] == ["recent"]
    (line,) = [record for record in caplog.records if record.getMessage().startswith("retention run: ")]
    fields = json.loads(line.getMessage().removeprefix("retention run: "))
    assert fields == {
        "deleted": {"events": 1, "processedEvents": 0, "deployments": 0, "loopHistory": 0},
        "unfinished": [],
    }
    assert line.__dict__["retention_deleted_events"] == 1


def test_the_retention_settings_have_defaults_and_bad_values_are_named() -> None:
    storage = {"CONTROLPLANE_STORAGE": "UseDevelopmentStorage=true"}
    defaults = Settings.from_environment(storage)
    assert (defaults.deployment_retention_days, defaults.loop_history_retention_days) == (90, 7)
    assert defaults.retention_budget_seconds == 480.0
    bad = {
        "CONTROLPLANE_DEPLOYMENT_RETENTION_DAYS": "0",
        "CONTROLPLANE_LOOP_HISTORY_RETENTION_DAYS": "a week",
        "CONTROLPLANE_RETENTION_BUDGET_SECONDS": "0",
    }
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_environment({**storage, **bad})
    assert [error.path for error in refused.value.errors] == list(bad)
