"""DurableStore on in-memory tables: history rows as a token chain, generations, repair, instances, messages;
and the engine over tables that lose a history write."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import azure.durable_functions as df
import pytest

from funchost.durable import store as store_module
from funchost.durable.engine import DurableEngine
from funchost.durable.history import (
    Event,
    EventType,
    RuntimeStatus,
    event,
    execution_started,
    kind_of,
    timestamp,
)
from funchost.durable.store import DurableStore, InstanceRecord, Message
from funchost.errors import AlreadyExists, ConcurrencyConflict, NotFound, TransientError
from funchost.functions import FunctionIndex
from funchost.storage.memory_tables import MemoryTables
from funchost.storage.tables import Entity

AT = datetime(2025, 1, 1, tzinfo=UTC)
INSTANCE = "order-1"


@pytest.fixture
def tables() -> MemoryTables:
    return MemoryTables()


@pytest.fixture
def store(tables: MemoryTables) -> DurableStore:
    created = DurableStore(tables, "Test")
    created.create_tables()
    return created


def episode(*steps: int, payload: str = "") -> list[Event]:
    """An episode that schedules one activity per step (its id is the step)."""
    return [
        event(EventType.ORCHESTRATOR_STARTED, AT),
        *(event(EventType.TASK_SCHEDULED, AT, step, Name="add_one", Input=payload or None) for step in steps),
        event(EventType.ORCHESTRATOR_COMPLETED, AT),
    ]


def first_episode() -> list[Event]:
    started = execution_started(AT, "chain", "3", INSTANCE, "exec-1", None)
    return [event(EventType.ORCHESTRATOR_STARTED, AT), started, event(EventType.ORCHESTRATOR_COMPLETED, AT)]


def row_keys(store: DurableStore, tables: MemoryTables, instance_id: str = INSTANCE) -> list[str]:
    return [document.row for document in tables.query(store.history_table, partition=instance_id)]


def row_bodies(store: DurableStore, tables: MemoryTables) -> list[dict]:
    return [dict(document.body) for document in tables.query(store.history_table, partition=INSTANCE)]


def record(instance_id: str, status: RuntimeStatus = RuntimeStatus.PENDING, name: str = "chain") -> InstanceRecord:
    now = timestamp(AT)
    return InstanceRecord(instance_id, name, status, now, now, input="3")


# History: the chain of rows


def test_an_instance_without_history_loads_as_empty_generation_zero(store: DurableStore) -> None:
    history = store.load_history(INSTANCE)
    assert (history.generation, history.rows, history.events, history.token) == (0, 0, [], "")


def test_history_written_in_several_appends_loads_back_in_order(store: DurableStore) -> None:
    first, second, third = first_episode(), episode(0), episode(1, 2)

    written, token = store.append_rows(INSTANCE, 0, 0, [first], "")
    assert written == 1
    written, token = store.append_rows(INSTANCE, 0, 1, [second], token)
    written, token = store.append_rows(INSTANCE, 0, 2, [third], token)

    history = store.load_history(INSTANCE)
    assert history.events == first + second + third
    assert (history.generation, history.rows, history.token) == (0, 3, token)


def test_episodes_decided_during_one_write_share_a_row(store: DurableStore, tables: MemoryTables) -> None:
    written, _ = store.append_rows(INSTANCE, 0, 0, [first_episode(), episode(0), episode(1)], "")

    assert written == 1
    assert row_keys(store, tables) == ["000000.00000000"]
    assert store.load_history(INSTANCE).events == first_episode() + episode(0) + episode(1)


def test_a_writer_continues_from_the_loaded_row_count_and_token(store: DurableStore) -> None:
    store.append_rows(INSTANCE, 0, 0, [first_episode()], "")
    loaded = store.load_history(INSTANCE)

    store.append_rows(INSTANCE, loaded.generation, loaded.rows, [episode(0)], loaded.token)

    assert store.load_history(INSTANCE).events == first_episode() + episode(0)


def test_histories_of_instances_are_kept_apart(store: DurableStore) -> None:
    store.append_rows("a", 0, 0, [episode(0)], "")
    store.append_rows("b", 0, 0, [episode(7)], "")

    assert store.load_history("a").events == episode(0)
    assert store.load_history("b").events == episode(7)


# History: continue-as-new generations


def test_history_loads_the_newest_generation_only(store: DurableStore) -> None:
    _, token = store.append_rows(INSTANCE, 0, 0, [first_episode()], "")
    _, token = store.append_rows(INSTANCE, 0, 1, [episode(0)], token)
    _, newest = store.append_rows(INSTANCE, 1, 0, [episode(5)], token)

    history = store.load_history(INSTANCE)

    assert history.events == episode(5)
    assert (history.generation, history.rows, history.token) == (1, 1, newest)


def test_dropping_older_generations_keeps_the_newest(store: DurableStore, tables: MemoryTables) -> None:
    _, token = store.append_rows(INSTANCE, 0, 0, [first_episode()], "")
    _, token = store.append_rows(INSTANCE, 0, 1, [episode(0)], token)
    _, token = store.append_rows(INSTANCE, 1, 0, [episode(5)], token)
    _, token = store.append_rows(INSTANCE, 2, 0, [episode(8)], token)
    _, token = store.append_rows(INSTANCE, 2, 1, [episode(9)], token)

    store.drop_generations_before(INSTANCE, 2)

    assert row_keys(store, tables) == ["000002.00000000", "000002.00000001"]
    history = store.load_history(INSTANCE)
    assert history.events == episode(8) + episode(9)
    assert (history.generation, history.rows, history.token) == (2, 2, token)


def test_a_partly_dropped_older_generation_does_not_hide_the_newest(store: DurableStore, tables: MemoryTables) -> None:
    """drop_generations_before deletes in key order, so a crash midway leaves the tail of the old chain."""
    _, token = store.append_rows(INSTANCE, 0, 0, [first_episode()], "")
    _, token = store.append_rows(INSTANCE, 0, 1, [episode(0)], token)
    store.append_rows(INSTANCE, 1, 0, [episode(5)], token)
    tables.delete(store.history_table, INSTANCE, "000000.00000000")

    history = store.load_history(INSTANCE)

    assert (history.generation, history.events) == (1, episode(5))
    assert len(row_keys(store, tables)) == 2


# History: _pack splits an episode larger than a row


def test_an_oversized_episode_spans_rows_and_only_its_last_row_is_complete(
    store: DurableStore, tables: MemoryTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = episode(0, 1, 2, 3, payload="x" * 150)
    monkeypatch.setattr(store_module, "ROW_CHARS", 400)

    written, token = store.append_rows(INSTANCE, 0, 0, [big], "")

    bodies = row_bodies(store, tables)
    assert written == len(bodies) > 2
    assert [body["complete"] for body in bodies] == [False] * (written - 1) + [True]
    assert [body["prev"] for body in bodies] == ["", *[body["token"] for body in bodies[:-1]]]
    assert bodies[-1]["token"] == token
    assert [e for body in bodies for e in body["events"]] == big
    history = store.load_history(INSTANCE)
    assert (history.events, history.rows) == (big, written)


def test_a_row_ending_exactly_at_an_episode_boundary_is_complete(
    store: DurableStore, tables: MemoryTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = [event(EventType.TASK_SCHEDULED, AT, 0, Name="echo", Input="x" * 300)]
    two = [event(EventType.TASK_COMPLETED, AT, TaskScheduledId=0, Result="null")]
    monkeypatch.setattr(store_module, "ROW_CHARS", 350)

    written, _ = store.append_rows(INSTANCE, 0, 0, [one, two], "")

    assert written == 2
    assert [body["complete"] for body in row_bodies(store, tables)] == [True, True]


def test_an_event_larger_than_a_row_gets_a_row_of_its_own(
    store: DurableStore, tables: MemoryTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = event(EventType.TASK_COMPLETED, AT, TaskScheduledId=0, Result="y" * 500)
    monkeypatch.setattr(store_module, "ROW_CHARS", 200)

    store.append_rows(INSTANCE, 0, 0, [[event(EventType.ORCHESTRATOR_STARTED, AT), huge]], "")

    assert [len(body["events"]) for body in row_bodies(store, tables)] == [1, 1]
    assert store.load_history(INSTANCE).events[-1] == huge


# History: load_history cuts a broken chain back to the last complete episode


def _write_split_episode_and_lose_its_last_row(
    store: DurableStore, tables: MemoryTables, monkeypatch: pytest.MonkeyPatch
) -> list[Event]:
    """A committed first row, then an episode spread over rows whose final row never got written."""
    committed = first_episode()
    _, token = store.append_rows(INSTANCE, 0, 0, [committed], "")
    monkeypatch.setattr(store_module, "ROW_CHARS", 400)
    written, _ = store.append_rows(INSTANCE, 0, 1, [episode(0, 1, 2, 3, payload="x" * 150)], token)
    assert written > 2
    tables.delete(store.history_table, INSTANCE, row_keys(store, tables)[-1])
    return committed


def test_trailing_rows_of_an_unfinished_episode_are_cut_and_deleted(
    store: DurableStore, tables: MemoryTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = _write_split_episode_and_lose_its_last_row(store, tables, monkeypatch)

    history = store.load_history(INSTANCE)

    assert (history.events, history.rows) == (committed, 1)
    assert row_keys(store, tables) == ["000000.00000000"]


def test_a_read_only_load_cuts_trailing_rows_but_keeps_them(
    store: DurableStore, tables: MemoryTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = _write_split_episode_and_lose_its_last_row(store, tables, monkeypatch)
    stored = row_keys(store, tables)

    history = store.load_history(INSTANCE, repair=False)

    assert (history.events, history.rows) == (committed, 1)
    assert row_keys(store, tables) == stored


def test_a_row_naming_another_predecessor_ends_the_chain(store: DurableStore, tables: MemoryTables) -> None:
    _, token = store.append_rows(INSTANCE, 0, 0, [first_episode()], "")
    store.append_rows(INSTANCE, 0, 1, [episode(0)], "token-of-a-lost-row")
    store.append_rows(INSTANCE, 0, 2, [episode(1)], "whatever")

    assert store.load_history(INSTANCE, repair=False).events == first_episode()
    assert len(row_keys(store, tables)) == 3

    history = store.load_history(INSTANCE)

    assert (history.events, history.rows, history.token) == (first_episode(), 1, token)
    assert row_keys(store, tables) == ["000000.00000000"]


def test_a_gap_in_row_numbers_ends_the_chain(store: DurableStore, tables: MemoryTables) -> None:
    _, token = store.append_rows(INSTANCE, 0, 0, [first_episode()], "")
    store.append_rows(INSTANCE, 0, 2, [episode(0)], token)  # names the right predecessor, but row 1 is missing

    assert store.load_history(INSTANCE, repair=False).events == first_episode()
    assert len(row_keys(store, tables)) == 2

    assert store.load_history(INSTANCE).events == first_episode()
    assert row_keys(store, tables) == ["000000.00000000"]


def test_after_a_repair_the_next_write_continues_the_chain(
    store: DurableStore, tables: MemoryTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = _write_split_episode_and_lose_its_last_row(store, tables, monkeypatch)
    monkeypatch.setattr(store_module, "ROW_CHARS", 300_000)
    loaded = store.load_history(INSTANCE)

    store.append_rows(INSTANCE, loaded.generation, loaded.rows, [episode(9)], loaded.token)

    assert store.load_history(INSTANCE).events == committed + episode(9)


# History: optimistic concurrency


def test_a_second_writer_of_the_same_row_gets_a_concurrency_conflict(store: DurableStore) -> None:
    _, token = store.append_rows(INSTANCE, 0, 0, [first_episode()], "")
    store.append_rows(INSTANCE, 0, 1, [episode(0)], token)

    with pytest.raises(ConcurrencyConflict, match=r"history row 000000\.00000001 exists"):
        store.append_rows(INSTANCE, 0, 1, [episode(1)], token)

    assert store.load_history(INSTANCE).events == first_episode() + episode(0)


# Instances


def test_an_instance_is_created_once_and_replaced_only_by_its_current_version(store: DurableStore) -> None:
    created = store.create_instance(record("a"))
    assert created.etag is not None

    with pytest.raises(AlreadyExists):
        store.create_instance(record("a"))

    running = store.create_instance(replace(created, status=RuntimeStatus.RUNNING))
    with pytest.raises(ConcurrencyConflict):
        store.create_instance(replace(created, status=RuntimeStatus.FAILED))  # the etag of a replaced version

    assert store.get_instance("a") == running
    assert store.get_instance("a").status is RuntimeStatus.RUNNING


def test_an_unknown_instance_is_not_found(store: DurableStore) -> None:
    with pytest.raises(NotFound):
        store.get_instance("nobody")


def test_put_instance_overwrites_and_round_trips_every_field(store: DurableStore) -> None:
    store.create_instance(record("a"))
    finished = InstanceRecord(
        "a",
        "chain",
        RuntimeStatus.COMPLETED,
        timestamp(AT),
        timestamp(AT),
        generation=2,
        execution_id="exec-9",
        input="3",
        output="6",
        custom_status='"done"',
        completed_time=timestamp(AT),
        parent_instance_id="parent",
        parent_task_id=4,
        parent_generation=1,
    )

    store.put_instance(finished)

    assert store.get_instance("a") == finished


def test_instances_are_listed_by_status(store: DurableStore) -> None:
    store.create_instance(record("pending"))
    store.create_instance(record("running", RuntimeStatus.RUNNING))
    store.create_instance(record("done", RuntimeStatus.COMPLETED))
    store.put_instance(record("failed", RuntimeStatus.FAILED))

    def ids(statuses: list[RuntimeStatus] | None) -> set[str]:
        return {found.instance_id for found in store.list_instances(statuses)}

    assert ids(None) == {"pending", "running", "done", "failed"}
    assert ids([RuntimeStatus.PENDING, RuntimeStatus.RUNNING]) == {"pending", "running"}
    assert ids([RuntimeStatus.FAILED]) == {"failed"}
    assert ids([RuntimeStatus.TERMINATED]) == set()


def test_deleting_an_instance_removes_its_history_and_messages_only(store: DurableStore, tables: MemoryTables) -> None:
    for instance_id in ("gone", "kept"):
        store.create_instance(record(instance_id))
        store.append_rows(instance_id, 0, 0, [episode(0)], "")
        store.put_message(Message(instance_id, "m1", event(EventType.EVENT_RAISED, AT, Name="go")))

    assert store.delete_instance("gone") is True

    with pytest.raises(NotFound):
        store.get_instance("gone")
    assert row_keys(store, tables, "gone") == []
    assert store.messages("gone") == []
    assert store.load_history("kept").events == episode(0)
    assert [m.message_id for m in store.messages("kept")] == ["m1"]
    assert store.delete_instance("gone") is False


# Messages


def test_messages_are_put_listed_and_deleted(store: DurableStore) -> None:
    raised = event(EventType.EVENT_RAISED, AT, Name="go", Input='"yes"', MessageId="event-1")
    started = execution_started(AT, "chain", "3", "b", "exec-1", None)
    store.put_message(Message("a", "event-1", raised))
    store.put_message(Message("b", "start-1", started, generation=0))

    assert store.messages("a") == [Message("a", "event-1", raised, None)]
    assert store.messages("b") == [Message("b", "start-1", started, 0)]
    assert {(m.instance_id, m.message_id) for m in store.all_messages()} == {("a", "event-1"), ("b", "start-1")}

    store.delete_message("a", "event-1")
    store.delete_message("a", "event-1")  # a second delete (redelivery) is harmless

    assert store.messages("a") == []
    assert [m.message_id for m in store.all_messages()] == ["start-1"]


def test_putting_a_message_again_replaces_it(store: DurableStore) -> None:
    first = event(EventType.EVENT_RAISED, AT, Name="go", Input='"1"')
    second = event(EventType.EVENT_RAISED, AT, Name="go", Input='"2"')
    store.put_message(Message("a", "event-1", first))
    store.put_message(Message("a", "event-1", second, generation=3))

    assert store.messages("a") == [Message("a", "event-1", second, 3)]


# The engine over tables that lose a history write


delegating = df.DFApp()


@delegating.orchestration_trigger(context_name="context")
def delegates(context: df.DurableOrchestrationContext):
    return (yield context.call_sub_orchestrator("waits", None, instance_id=f"{context.instance_id}-child"))


@delegating.orchestration_trigger(context_name="context")
def waits(context: df.DurableOrchestrationContext):
    return (yield context.wait_for_external_event("go"))


_delegating_index = FunctionIndex.of_app(delegating)  # the SDK indexes an app once; only this module does


class LosesTheFirstHistoryWrite(MemoryTables):
    """Memory tables whose first History insert fails, as a write lost to a storage error would. The first
    read of ``busy_instance``'s row waits until that failure was reported plus 0.2 s: the engine reads it
    while dispatching the failed episode's work, so the failure lands while the instance is being processed."""

    def __init__(self, busy_instance: str) -> None:
        super().__init__()
        self.lost = threading.Event()
        self._busy_instance = busy_instance

    def insert(self, table: str, document: Entity) -> str:
        if table.endswith("History") and not self.lost.is_set():
            self.lost.set()
            raise TransientError(f"{table}: injected loss of {document.partition}/{document.row}")
        return super().insert(table, document)

    def get(self, table: str, partition: str, row: str) -> Entity:
        if table.endswith("Instances") and partition == self._busy_instance:
            self.lost.wait(5)
            time.sleep(0.2)
        return super().get(table, partition, row)


def test_an_episode_whose_write_was_lost_is_decided_again() -> None:
    tables = LosesTheFirstHistoryWrite("parent-child")
    store = DurableStore(tables, "Lost")
    engine = DurableEngine(_delegating_index, store)
    engine.start()
    try:
        engine.start_new("delegates", "parent", None)
        deadline = time.monotonic() + 2
        redone = False
        while not redone and time.monotonic() < deadline:
            redone = any(
                kind_of(e) is EventType.SUB_ORCHESTRATION_CREATED
                for e in store.load_history("parent", repair=False).events
            )
            time.sleep(0.02)
        stuck = engine.get_record("parent").status
        engine.raise_event("parent-child", "go", "1")  # the child's result would reload the parent anyway
        engine.wait("parent", timeout=5)
    finally:
        engine.stop()

    assert tables.lost.is_set()
    assert redone, f"parent is still {stuck.value} with no history 2 s after its first write was lost"
