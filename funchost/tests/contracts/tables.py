"""The host's Tables contract (``funchost.storage.tables``): Azure Tables on Azurite and the in-memory twin
both pass it, with the host's error types."""

from __future__ import annotations

import pytest

from funchost.errors import AlreadyExists, ConcurrencyConflict, NotFound
from funchost.storage.tables import Entity, Tables


class TablesContract:
    """Subclasses provide a ``tables`` fixture whose table ``Things`` exists and is empty."""

    def test_insert_then_get_returns_body_index_and_etag(self, tables: Tables) -> None:
        body = {"a": [1, {"b": None}], "ü": "ß"}
        etag = tables.insert("Things", Entity("p", "r", body, {"State": "x", "n": 3}))
        stored = tables.get("Things", "p", "r")
        assert (stored.body, stored.index, stored.etag) == (body, {"State": "x", "n": 3}, etag)

    def test_insert_refuses_an_existing_key(self, tables: Tables) -> None:
        tables.insert("Things", Entity("p", "r", {}))
        with pytest.raises(AlreadyExists):
            tables.insert("Things", Entity("p", "r", {"other": True}))
        assert tables.get("Things", "p", "r").body == {}

    def test_get_of_a_missing_entity_raises_not_found(self, tables: Tables) -> None:
        with pytest.raises(NotFound):
            tables.get("Things", "nobody", "here")

    def test_replace_with_the_read_etag_succeeds_and_changes_the_etag(self, tables: Tables) -> None:
        tables.insert("Things", Entity("p", "r", {"v": 1}))
        read = tables.get("Things", "p", "r")
        new_etag = tables.replace("Things", Entity("p", "r", {"v": 2}, etag=read.etag))
        assert new_etag != read.etag
        assert tables.get("Things", "p", "r").body == {"v": 2}

    def test_replace_with_a_stale_etag_raises_concurrency_conflict(self, tables: Tables) -> None:
        tables.insert("Things", Entity("p", "r", {"v": 1}))
        stale = tables.get("Things", "p", "r")
        tables.replace("Things", Entity("p", "r", {"v": 2}, etag=stale.etag))
        with pytest.raises(ConcurrencyConflict):
            tables.replace("Things", Entity("p", "r", {"v": 3}, etag=stale.etag))
        assert tables.get("Things", "p", "r").body == {"v": 2}

    def test_replace_of_a_missing_entity_raises_not_found(self, tables: Tables) -> None:
        with pytest.raises(NotFound):
            tables.replace("Things", Entity("p", "gone", {}, etag='W/"1"'))

    def test_upsert_creates_then_overwrites(self, tables: Tables) -> None:
        first = tables.upsert("Things", Entity("p", "r", {"v": 1}))
        second = tables.upsert("Things", Entity("p", "r", {"v": 2}))
        assert first != second
        assert tables.get("Things", "p", "r").body == {"v": 2}

    def test_delete_removes_and_tolerates_absence(self, tables: Tables) -> None:
        tables.insert("Things", Entity("p", "r", {}))
        tables.delete("Things", "p", "r")
        tables.delete("Things", "p", "r")
        with pytest.raises(NotFound):
            tables.get("Things", "p", "r")

    def test_query_filters_by_partition_and_index_equality(self, tables: Tables) -> None:
        tables.insert("Things", Entity("a", "1", {"n": 1}, {"State": "pending"}))
        tables.insert("Things", Entity("a", "2", {"n": 2}, {"State": "delivered"}))
        tables.insert("Things", Entity("b", "1", {"n": 3}, {"State": "pending"}))
        assert sorted(e.body["n"] for e in tables.query("Things")) == [1, 2, 3]
        assert sorted(e.body["n"] for e in tables.query("Things", partition="a")) == [1, 2]
        assert sorted(e.body["n"] for e in tables.query("Things", where={"State": "pending"})) == [1, 3]
        assert [e.body["n"] for e in tables.query("Things", partition="a", where={"State": "pending"})] == [1]
        assert list(tables.query("Things", where={"State": "gone"})) == []

    def test_keys_with_characters_tables_forbid_round_trip(self, tables: Tables) -> None:
        key = "events/Subscriptions/scaling#1?50%\\x"
        tables.insert("Things", Entity(key, key, {"k": key}))
        assert tables.get("Things", key, key).partition == key
        assert [e.row for e in tables.query("Things", partition=key)] == [key]

    def test_an_empty_row_key_is_a_key(self, tables: Tables) -> None:
        tables.insert("Things", Entity("instance-1", "", {"status": "Running"}))
        assert tables.get("Things", "instance-1", "").body == {"status": "Running"}

    def test_large_bodies_round_trip(self, tables: Tables) -> None:
        body = {"blob": "x" * 200_000, "items": list(range(5_000))}
        tables.insert("Things", Entity("p", "big", body))
        assert tables.get("Things", "p", "big").body == body

    def test_a_missing_table_raises_not_found(self, tables: Tables) -> None:
        with pytest.raises(NotFound):
            tables.get("Nothings", "p", "r")
