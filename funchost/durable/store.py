"""Durable state in per-hub tables: ``<hub>Instances``, ``<hub>History`` and ``<hub>Messages``.

    Instances  PartitionKey=instance id  RowKey=""                  one row per instance (status, I/O)
    History    PartitionKey=instance id  RowKey=<generation>.<row>  the events of one or more episodes
    Messages   PartitionKey=instance id  RowKey=<message id>        inbound work not yet in history

History rows hold whole episodes, as many as were decided while the previous write was in flight (group
commit), rather than one event each (the Durable Task Azure Storage layout): a write is then one insert,
and inserting a row key that already exists is the optimistic-concurrency check. On Azurite one insert
takes about 3 ms while a batch transaction of even 3 rows takes about 11 ms, so per-event rows would
cap a sequential orchestration near 80 steps/s. ``generation`` counts continue-as-new restarts.

Payloads past a Table property's limit (inputs, results, outputs, failure details) live in blobs of the
hub's ``<hub>-largemessages`` container (:mod:`funchost.durable.large_payloads`), as the
Azure Storage provider keeps them; every read here returns them whole.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from funchost.durable.history import Event, RuntimeStatus, kind_of
from funchost.durable.large_payloads import EVENT_PAYLOADS, INSTANCE_PAYLOADS, LargePayloads
from funchost.errors import AlreadyExists, ConcurrencyConflict, NotFound
from funchost.storage.tables import Entity, Tables

ROW_CHARS = 300_000  # of JSON per history row; AzureTables stores up to 450,000 characters


@dataclass(frozen=True)
class InstanceRecord:
    """The Instances row of one orchestration instance."""

    instance_id: str
    name: str
    status: RuntimeStatus
    created_time: str
    last_updated_time: str
    generation: int = 0
    execution_id: str = ""
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    completed_time: str | None = None
    parent_instance_id: str | None = None
    parent_task_id: int | None = None
    parent_generation: int | None = None
    etag: str | None = field(default=None, compare=False)

    def to_body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "createdTime": self.created_time,
            "lastUpdatedTime": self.last_updated_time,
            "generation": self.generation,
            "executionId": self.execution_id,
            "input": self.input,
            "output": self.output,
            "customStatus": self.custom_status,
            "completedTime": self.completed_time,
            "parentInstanceId": self.parent_instance_id,
            "parentTaskId": self.parent_task_id,
            "parentGeneration": self.parent_generation,
        }

    @classmethod
    def from_entity(cls, entity: Entity, body: Mapping[str, Any]) -> InstanceRecord:
        """The record of an Instances row whose (restored) body is ``body``."""
        return cls(
            instance_id=entity.partition,
            name=body["name"],
            status=RuntimeStatus(body["status"]),
            created_time=body["createdTime"],
            last_updated_time=body["lastUpdatedTime"],
            generation=body.get("generation", 0),
            execution_id=body.get("executionId", ""),
            input=body.get("input"),
            output=body.get("output"),
            custom_status=body.get("customStatus"),
            completed_time=body.get("completedTime"),
            parent_instance_id=body.get("parentInstanceId"),
            parent_task_id=body.get("parentTaskId"),
            parent_generation=body.get("parentGeneration"),
            etag=entity.etag,
        )


@dataclass(frozen=True)
class Message:
    """Inbound work for an instance: a history event to apply in its next episode (or a terminate)."""

    instance_id: str
    message_id: str
    event: Event
    generation: int | None = None  # None: whatever generation is current when it is applied


@dataclass(frozen=True)
class History:
    """The committed history of an instance's current generation: its events, how many rows hold them,
    and the token of the last row (the next row names it as its predecessor)."""

    generation: int
    rows: int
    events: list[Event]
    token: str = ""


class DurableStore:
    """The engine's tables. ``payloads`` holds what is too large for a row; without it (in-memory tables
    in unit tests) payloads stay in the rows, and Table storage refuses a row past its entity limit."""

    def __init__(self, tables: Tables, hub: str, payloads: LargePayloads | None = None) -> None:
        self._tables = tables
        self._payloads = payloads
        self.instances_table = f"{hub}Instances"
        self.history_table = f"{hub}History"
        self.messages_table = f"{hub}Messages"

    def create_tables(self) -> None:
        """Create the hub's tables, and its large-message container when payloads go to blobs."""
        self._tables.create_tables([self.instances_table, self.history_table, self.messages_table])
        if self._payloads is not None:
            self._payloads.create()

    # Instances

    def get_instance(self, instance_id: str) -> InstanceRecord:
        """NotFound if the instance does not exist."""
        return self._record(self._tables.get(self.instances_table, instance_id, ""))

    def create_instance(self, record: InstanceRecord) -> InstanceRecord:
        """Insert, or replace the version ``record.etag`` names; AlreadyExists / ConcurrencyConflict on a race."""
        entity = self._instance_entity(record)
        if record.etag is None:
            etag = self._tables.insert(self.instances_table, entity)
        else:
            etag = self._tables.replace(self.instances_table, entity)
        return replace(record, etag=etag)

    def put_instance(self, record: InstanceRecord) -> None:
        """Write the instance row unconditionally (the engine is its only writer once it exists)."""
        self._tables.upsert(self.instances_table, replace(self._instance_entity(record), etag=None))

    def list_instances(self, statuses: list[RuntimeStatus] | None = None) -> list[InstanceRecord]:
        if not statuses:
            entities: Iterator[Entity] = self._tables.query(self.instances_table)
            return [self._record(d) for d in entities]
        return [
            self._record(entity)
            for status in statuses
            for entity in self._tables.query(self.instances_table, where={"RuntimeStatus": status.value})
        ]

    def delete_instance(self, instance_id: str) -> bool:
        """Remove the instance, its history and its messages; False if it did not exist."""
        try:
            self._tables.get(self.instances_table, instance_id, "")
        except NotFound:
            return False
        for table in (self.history_table, self.messages_table):
            for entity in self._tables.query(table, partition=instance_id):
                self._tables.delete(table, instance_id, entity.row)
        self._tables.delete(self.instances_table, instance_id, "")
        if self._payloads is not None:
            self._payloads.forget(instance_id)
        return True

    # History

    def load_history(self, instance_id: str, repair: bool = True) -> History:
        """The newest generation's history (generation 0 with no events if none).

        Each row names the token of the row before it and says whether it ends at an episode boundary.
        The history is the unbroken chain from the oldest row, cut back to the last complete episode;
        rows past that were never acknowledged (a crash between the rows of one write) and are deleted
        unless ``repair`` is False (a read-only look).
        """
        rows = sorted(self._tables.query(self.history_table, partition=instance_id), key=lambda d: _order(d.row))
        chain: list[Entity] = []
        for row in rows:
            if chain and (row.body["prev"] != chain[-1].body["token"] or not _follows(chain[-1].row, row.row)):
                break
            chain.append(row)
        while chain and not chain[-1].body["complete"]:
            chain.pop()
        for stale in rows[len(chain) :] if repair else []:
            self._tables.delete(self.history_table, instance_id, stale.row)
        if not chain:
            return History(0, 0, [])
        generation = _order(chain[-1].row)[0]
        current = [row for row in chain if _order(row.row)[0] == generation]
        events = [self._restored(history_event) for row in current for history_event in row.body["events"]]
        return History(generation, len(current), events, chain[-1].body["token"])

    def append_rows(
        self, instance_id: str, generation: int, first_row: int, episodes: list[list[Event]], prev: str
    ) -> tuple[int, str]:
        """Append episodes as consecutive rows after the row whose token is ``prev``; return how many rows
        were written and the last one's token. ConcurrencyConflict if another writer took a row first."""
        token = prev
        kind = f"history-{generation:06d}"
        rows = _pack([[self._offloaded(instance_id, kind, e) for e in episode] for episode in episodes])
        for offset, (events, complete) in enumerate(rows):
            row_token = uuid.uuid4().hex
            body = {"events": events, "complete": complete, "prev": token, "token": row_token}
            entity = Entity(instance_id, _history_key(generation, first_row + offset), body)
            try:
                self._tables.insert(self.history_table, entity)
            except AlreadyExists as error:
                raise ConcurrencyConflict(f"instance {instance_id}: history row {entity.row} exists") from error
            token = row_token
        return len(rows), token

    def rewrite_history(self, instance_id: str, generation: int, rewrite: Callable[[Event], Event]) -> None:
        """Replace events of ``generation`` in place, row by row (rewind; only for an instance that runs
        no episode meanwhile: the rows keep their keys and chain tokens)."""
        for entity in self._tables.query(self.history_table, partition=instance_id):
            if _generation_of(entity.row) != generation:
                continue
            events = [rewrite(history_event) for history_event in entity.body["events"]]
            if events != entity.body["events"]:
                body = {**entity.body, "events": events}
                self._tables.upsert(self.history_table, Entity(instance_id, entity.row, body))

    def drop_generations_before(self, instance_id: str, generation: int) -> None:
        """Delete history of earlier generations (after continue-as-new)."""
        for entity in self._tables.query(self.history_table, partition=instance_id):
            if _generation_of(entity.row) < generation:
                self._tables.delete(self.history_table, instance_id, entity.row)

    # Messages

    def put_message(self, message: Message) -> None:
        stored = self._offloaded(message.instance_id, "message", message.event)
        body = {"event": stored, "generation": message.generation}
        self._tables.upsert(self.messages_table, Entity(message.instance_id, message.message_id, body))

    def messages(self, instance_id: str) -> list[Message]:
        return [self._message(d) for d in self._tables.query(self.messages_table, partition=instance_id)]

    def all_messages(self) -> list[Message]:
        return [self._message(d) for d in self._tables.query(self.messages_table)]

    def delete_message(self, instance_id: str, message_id: str) -> None:
        self._tables.delete(self.messages_table, instance_id, message_id)

    # Large payloads

    def _instance_entity(self, record: InstanceRecord) -> Entity:
        index = {"RuntimeStatus": record.status.value, "Name": record.name}
        body = record.to_body()
        if self._payloads is not None:
            body = self._payloads.offload(record.instance_id, "instance", body, INSTANCE_PAYLOADS)
        return Entity(record.instance_id, "", body, index=index, etag=record.etag)

    def _record(self, entity: Entity) -> InstanceRecord:
        body = entity.body if self._payloads is None else self._payloads.restore(entity.body)
        return InstanceRecord.from_entity(entity, body)

    def _message(self, entity: Entity) -> Message:
        event = self._restored(entity.body["event"])
        return Message(entity.partition, entity.row, event, entity.body.get("generation"))

    def _offloaded(self, instance_id: str, kind: str, history_event: Event) -> Event:
        if self._payloads is None:
            return history_event
        name = "".join(word.title() for word in kind_of(history_event).name.split("_"))
        return self._payloads.offload(instance_id, f"{kind}-{name}", history_event, EVENT_PAYLOADS)

    def _restored(self, history_event: Event) -> Event:
        return history_event if self._payloads is None else self._payloads.restore(history_event)


def _history_key(generation: int, row: int) -> str:
    return f"{generation:06d}.{row:08d}"


def _pack(episodes: list[list[Event]]) -> list[tuple[list[Event], bool]]:
    """Group episodes into rows of at most ROW_CHARS of JSON; an episode larger than that spans rows,
    and only a row that ends an episode is ``complete``."""
    rows: list[tuple[list[Event], bool]] = []
    current: list[Event] = []
    size = 0
    for episode in episodes:
        for position, history_event in enumerate(episode):
            length = len(json.dumps(history_event, separators=(",", ":")))
            if current and size + length > ROW_CHARS:
                rows.append((current, position == 0))
                current, size = [], 0
            current.append(history_event)
            size += length
    if current:
        rows.append((current, True))
    return rows


def _generation_of(row_key: str) -> int:
    return int(row_key.split(".", 1)[0])


def _order(row_key: str) -> tuple[int, int]:
    generation, row = row_key.split(".", 1)
    return int(generation), int(row)


def _follows(before: str, after: str) -> bool:
    """Whether row ``after`` comes right after ``before``: the next one, or the first of the next generation."""
    (generation, row), (next_generation, next_row) = _order(before), _order(after)
    return (next_generation, next_row) in ((generation, row + 1), (generation + 1, 0))
