"""Extended sessions decide exactly what full replay decides, and an evicted session falls back to replay."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controlplane.adapters.memory_documents import MemoryDocumentTables
from controlplane.local.durable.engine import DurableEngine
from controlplane.local.durable.history import COMPLETIONS, Event, EventType, RuntimeStatus, kind_of
from controlplane.local.durable.store import DurableStore, InstanceRecord
from tests import durable_app

HUB = "Sessions"


@dataclass(frozen=True)
class Run:
    record: InstanceRecord
    histories: dict[str, list[Event]]  # committed history of the instance and of every sub-orchestration
    stats: dict[str, int]


def run(name: str, value: Any, instance_id: str, **engine_options: Any) -> Run:
    """Run one orchestration to its end on a fresh engine; read what is committed once the engine stopped."""
    store = DurableStore(MemoryDocumentTables(), HUB)
    engine = DurableEngine(durable_app.index(), store, **engine_options)
    engine.start()
    try:
        engine.start_new(name, instance_id, json.dumps(value))
        engine.wait(instance_id, timeout=8)
    finally:
        engine.stop()
    histories = {}
    pending = [instance_id]
    while pending:
        current = pending.pop()
        histories[current] = store.load_history(current, repair=False).events
        pending += [e["InstanceId"] for e in histories[current] if kind_of(e) is EventType.SUB_ORCHESTRATION_CREATED]
    return Run(store.get_instance(instance_id), histories, dict(engine.stats))


_VARYING = {"Timestamp", "FireAt", "OrchestrationInstance", "ParentInstance", "InstanceId", "MessageId"}
_EPISODE_MARKERS = {EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED}


def without_uuid(output: str | None) -> Any:
    """An output, decoded if it is JSON, with ``counter``'s new_uuid left out (it derives from a timestamp)."""
    try:
        value = json.loads(output) if output is not None else None
    except ValueError:
        return output  # a failure's message
    return {k: v for k, v in value.items() if k != "uuid"} if isinstance(value, dict) else value


def shape(history: list[Event]) -> list[dict]:
    """What the orchestrator decided, without what legitimately differs between two runs: times, instance
    and message ids, and how results that arrived together were grouped into episodes (a fan-out's results
    arrive in any order, so each run of consecutive results is sorted by the task it answers)."""
    decided: list[dict] = []
    results: list[dict] = []
    for past in history:
        kind = kind_of(past)
        if kind in _EPISODE_MARKERS:
            continue
        kept = {key: value for key, value in past.items() if key not in _VARYING}
        if kind is EventType.EXECUTION_COMPLETED:
            kept["Result"] = without_uuid(kept.get("Result"))
        if kind in COMPLETIONS:
            results.append(kept)
            continue
        decided += sorted(results, key=lambda r: r[COMPLETIONS[EventType(r["EventType"])]])
        results = []
        decided.append(kept)
    return decided + sorted(results, key=lambda r: r[COMPLETIONS[EventType(r["EventType"])]])


def fresh_retry_key(key: str, failures: int) -> dict:
    """``flaky`` counts calls per key in its module: forget them so both runs see the same failures."""
    durable_app.calls.pop(f"flaky:{key}", None)
    return {"key": key, "failures": failures}


# case -> (orchestrator, its input); inputs are made per run
ORCHESTRATIONS: dict[str, tuple[str, Callable[[], Any]]] = {
    "chain": ("chain", lambda: 4),
    "fan_out": ("fan_out", lambda: 20),
    "retrying": ("retrying", lambda: fresh_retry_key("recovers", 2)),
    "retrying_gives_up": ("retrying", lambda: fresh_retry_key("gives-up", 5)),
    "failing": ("failing", lambda: None),
    "catches": ("catches", lambda: None),
    "timer_then_echo": ("timer_then_echo", lambda: 0.1),
    "parent": ("parent", lambda: None),
    "counter": ("counter", lambda: 0),
}


@pytest.mark.parametrize("name", list(ORCHESTRATIONS))
def test_extended_sessions_decide_what_full_replay_decides(name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="controlplane.durable")
    orchestrator, make_input = ORCHESTRATIONS[name]
    instance_id = f"{name}-{uuid.uuid4().hex[:8]}"  # the same in both runs, so sub-orchestration ids match

    sessions = run(orchestrator, make_input(), instance_id, extended_sessions=True)
    replays = run(orchestrator, make_input(), instance_id, extended_sessions=False)

    assert [r.getMessage() for r in caplog.records] == []
    assert sessions.record.status.is_terminal
    assert (sessions.record.status, without_uuid(sessions.record.output)) == (
        replays.record.status,
        without_uuid(replays.record.output),
    )
    assert sessions.histories.keys() == replays.histories.keys()
    for instance, history in sessions.histories.items():
        assert shape(history) == shape(replays.histories[instance]), instance
    assert sessions.stats["session_steps"] > 0
    assert sessions.stats["full_replays"] > 0  # each instance and each continue-as-new generation starts so
    assert (replays.stats["session_steps"], replays.stats["full_replays"] > 0) == (0, True)


@pytest.mark.parametrize("name", list(ORCHESTRATIONS))
def test_verified_sessions_never_diverge_from_a_full_replay(name: str, caplog: pytest.LogCaptureFixture) -> None:
    """verify_sessions replays every session step in full and raises inside the engine on a difference,
    which the engine logs before redoing the episode by full replay."""
    caplog.set_level(logging.WARNING, logger="controlplane.durable")
    orchestrator, make_input = ORCHESTRATIONS[name]

    verified = run(orchestrator, make_input(), uuid.uuid4().hex, extended_sessions=True, verify_sessions=True)

    assert verified.record.status.is_terminal
    assert [r.getMessage() for r in caplog.records] == []
    assert verified.stats["session_steps"] > 0


EXPECTED = {
    "chain": (RuntimeStatus.COMPLETED, 4),
    "fan_out": (RuntimeStatus.COMPLETED, sum(range(1, 21))),
    "retrying": (RuntimeStatus.COMPLETED, "ok after 3"),
    "retrying_gives_up": (RuntimeStatus.FAILED, "RuntimeError: attempt 3 failed"),
    "failing": (RuntimeStatus.FAILED, "ValueError: activity exploded"),
    "catches": (RuntimeStatus.COMPLETED, "caught: True"),
    "timer_then_echo": (RuntimeStatus.COMPLETED, "woke"),
    "parent": (RuntimeStatus.COMPLETED, [3, 2]),
    "counter": (RuntimeStatus.COMPLETED, {"value": 3}),
}


@pytest.mark.parametrize("name", list(ORCHESTRATIONS))
def test_sessions_give_the_expected_results(name: str) -> None:
    """The comparison above is only worth something if the runs are right."""
    orchestrator, make_input = ORCHESTRATIONS[name]
    status, output = EXPECTED[name]

    record = run(orchestrator, make_input(), uuid.uuid4().hex, extended_sessions=True).record

    assert record.status is status
    if status is RuntimeStatus.COMPLETED:
        assert without_uuid(record.output) == output
    else:
        assert record.output.startswith(output)


# Eviction: with session_idle_seconds=0 every eviction pass (at most one a second) drops every session.


def waiter_with_event(**engine_options: Any) -> tuple[InstanceRecord, dict[str, int]]:
    """Start ``waiter``, let its first episode settle, raise "go"; the final record and the engine's stats."""
    engine = DurableEngine(
        durable_app.index(), DurableStore(MemoryDocumentTables(), HUB), verify_sessions=True, **engine_options
    )
    engine.start()
    try:
        instance_id = engine.start_new("waiter", None, None)
        deadline = time.monotonic() + 5
        while engine.get_record(instance_id).custom_status != '"waiting"':
            assert time.monotonic() < deadline, "the waiter never started waiting"
            time.sleep(0.01)
        time.sleep(0.1)  # the history writer reports the status; the worker's eviction pass follows the episode
        engine.raise_event(instance_id, "go", json.dumps("now"))
        record = engine.wait(instance_id, timeout=5)
    finally:
        engine.stop()
    return record, dict(engine.stats)


def test_an_evicted_session_resumes_by_full_replay() -> None:
    record, stats = waiter_with_event(session_idle_seconds=0)

    assert record.status is RuntimeStatus.COMPLETED
    assert json.loads(record.output) == {"got": "now"}
    # The first episode's session was evicted right after it, so the second episode replayed in full.
    assert (stats["full_replays"], stats["session_steps"]) == (2, 0)


def test_a_kept_session_takes_the_next_episode() -> None:
    """The control for the test above: with the default idle time the session serves the second episode."""
    record, stats = waiter_with_event()

    assert json.loads(record.output) == {"got": "now"}
    assert (stats["full_replays"], stats["session_steps"]) == (1, 1)


def test_a_long_orchestration_mixes_session_steps_and_replays_after_evictions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Six episodes 0.3 s apart: evictions at the first and at the first episode a second later, so
    sessions serve the episodes in between and full replays the ones right after an eviction."""
    caplog.set_level(logging.WARNING, logger="controlplane.durable")
    settings = {"steps": 5, "seconds": 0.3}

    evicting = run("slow_chain", settings, "slow", session_idle_seconds=0, verify_sessions=True)
    replaying = run("slow_chain", settings, "slow", extended_sessions=False)

    assert [r.getMessage() for r in caplog.records] == []
    assert json.loads(evicting.record.output) == [0, 1, 2, 3, 4]
    assert evicting.stats["full_replays"] >= 3
    assert evicting.stats["session_steps"] >= 1
    assert shape(evicting.histories["slow"]) == shape(replaying.histories["slow"])
