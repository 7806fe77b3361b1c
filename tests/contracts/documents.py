"""The DocumentTables contract: every implementation (Azure Tables on Azurite, memory) passes it."""

from __future__ import annotations

import pytest

from controlplane.adapters.storage.documents import AnyOf, Document, DocumentTables, KeyRange, Write, batches
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound


class DocumentTablesContract:
    """Subclasses provide a ``tables`` fixture whose table ``Things`` exists and is empty."""

    def test_insert_then_get_returns_body_index_and_etag(self, tables: DocumentTables) -> None:
        etag = tables.insert("Things", Document("p", "r", {"a": [1, {"b": None}], "ü": "ß"}, {"kind": "x", "n": 3}))
        stored = tables.get("Things", "p", "r")
        assert stored.body == {"a": [1, {"b": None}], "ü": "ß"}
        assert stored.index == {"kind": "x", "n": 3}
        assert stored.etag == etag

    def test_insert_refuses_an_existing_key(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("p", "r", {}))
        with pytest.raises(AlreadyExists):
            tables.insert("Things", Document("p", "r", {"other": True}))

    def test_get_of_a_missing_document_raises_not_found(self, tables: DocumentTables) -> None:
        with pytest.raises(NotFound):
            tables.get("Things", "nobody", "here")

    def test_replace_with_the_read_etag_succeeds_and_changes_the_etag(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("p", "r", {"v": 1}))
        read = tables.get("Things", "p", "r")
        new_etag = tables.replace("Things", Document("p", "r", {"v": 2}, etag=read.etag))
        assert new_etag != read.etag
        assert tables.get("Things", "p", "r").body == {"v": 2}

    def test_replace_with_a_stale_etag_raises_concurrency_conflict(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("p", "r", {"v": 1}))
        stale = tables.get("Things", "p", "r")
        tables.replace("Things", Document("p", "r", {"v": 2}, etag=stale.etag))
        with pytest.raises(ConcurrencyConflict):
            tables.replace("Things", Document("p", "r", {"v": 3}, etag=stale.etag))
        assert tables.get("Things", "p", "r").body == {"v": 2}

    def test_replace_of_a_missing_document_raises_not_found(self, tables: DocumentTables) -> None:
        with pytest.raises(NotFound):
            tables.replace("Things", Document("p", "gone", {}, etag='W/"1"'))

    def test_upsert_creates_then_overwrites(self, tables: DocumentTables) -> None:
        tables.upsert("Things", Document("p", "r", {"v": 1}))
        tables.upsert("Things", Document("p", "r", {"v": 2}))
        assert tables.get("Things", "p", "r").body == {"v": 2}

    def test_delete_removes_and_tolerates_absence(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("p", "r", {}))
        tables.delete("Things", "p", "r")
        tables.delete("Things", "p", "r")
        with pytest.raises(NotFound):
            tables.get("Things", "p", "r")

    def test_delete_with_a_stale_etag_keeps_the_document(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("p", "r", {"v": 1}))
        stale = tables.get("Things", "p", "r")
        tables.replace("Things", Document("p", "r", {"v": 2}, etag=stale.etag))
        with pytest.raises(ConcurrencyConflict):
            tables.delete("Things", "p", "r", etag=stale.etag)
        assert tables.get("Things", "p", "r").body == {"v": 2}

    def test_a_transaction_writes_all_and_answers_each_etag(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("p", "old", {"v": 1}))
        read = tables.get("Things", "p", "old")
        etags = tables.transact(
            "Things",
            [
                Write("insert", Document("p", "new", {"v": 1}, {"kind": "x"})),
                Write("replace", Document("p", "old", {"v": 2}, etag=read.etag)),
                Write("upsert", Document("p", "any", {"v": 3})),
            ],
        )
        stored = [tables.get("Things", "p", row) for row in ("new", "old", "any")]
        assert [(document.body["v"], document.etag) for document in stored] == list(zip([1, 2, 3], etags, strict=True))
        assert stored[0].index == {"kind": "x"}

    @pytest.mark.parametrize(
        ("failing", "error"),
        [
            (Write("insert", Document("p", "taken", {"v": 9})), AlreadyExists),
            (Write("replace", Document("p", "taken", {"v": 9}, etag='W/"stale"')), ConcurrencyConflict),
            (Write("replace", Document("p", "gone", {"v": 9}, etag='W/"1"')), NotFound),
        ],
    )
    def test_a_transaction_with_a_failing_write_writes_nothing(
        self, tables: DocumentTables, failing: Write, error: type[Exception]
    ) -> None:
        tables.insert("Things", Document("p", "taken", {"v": 1}))
        with pytest.raises(error):
            tables.transact("Things", [Write("insert", Document("p", "first", {})), failing])
        assert [document.row for document in tables.query("Things")] == ["taken"]
        assert tables.get("Things", "p", "taken").body == {"v": 1}

    def test_a_transaction_is_refused_across_partitions_or_twice_on_a_row(self, tables: DocumentTables) -> None:
        for writes in (
            [Write("insert", Document("p", "a", {})), Write("insert", Document("q", "a", {}))],
            [Write("insert", Document("p", "a", {})), Write("upsert", Document("p", "a", {}))],
            [],
        ):
            with pytest.raises(ValueError):
                tables.transact("Things", writes)
        assert list(tables.query("Things")) == []

    def test_query_filters_by_partition_and_index_equality(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("a", "1", {"n": 1}, {"colour": "red"}))
        tables.insert("Things", Document("a", "2", {"n": 2}, {"colour": "blue"}))
        tables.insert("Things", Document("b", "1", {"n": 3}, {"colour": "red"}))
        assert sorted(d.body["n"] for d in tables.query("Things")) == [1, 2, 3]
        assert sorted(d.body["n"] for d in tables.query("Things", partition="a")) == [1, 2]
        assert sorted(d.body["n"] for d in tables.query("Things", where={"colour": "red"})) == [1, 3]
        assert [d.body["n"] for d in tables.query("Things", partition="a", where={"colour": "red"})] == [1]
        assert list(tables.query("Things", where={"colour": "green"})) == []

    def test_keys_with_characters_tables_forbid_round_trip(self, tables: DocumentTables) -> None:
        key = "dev/orders#cpu?50%\\x"
        tables.insert("Things", Document(key, key, {"k": key}))
        assert tables.get("Things", key, key).partition == key
        assert [d.row for d in tables.query("Things", partition=key)] == [key]

    def test_large_bodies_round_trip(self, tables: DocumentTables) -> None:
        body = {"blob": "x" * 200_000, "items": list(range(5_000))}
        tables.insert("Things", Document("p", "big", body))
        assert tables.get("Things", "p", "big").body == body

    def test_scan_reads_a_key_range_in_key_order(self, tables: DocumentTables) -> None:
        for partition in ("2026-01-02", "2026-01-01", "2026-01-03"):
            for row in ("b", "a", "c"):
                tables.insert("Things", Document(partition, row, {"at": f"{partition}/{row}"}))

        def scanned(keys: KeyRange) -> list[str]:
            return [f"{document.partition}/{document.row}" for document in tables.scan("Things", keys, batch=2)]

        assert scanned(KeyRange(partition="2026-01-02", start="b")) == ["2026-01-02/b", "2026-01-02/c"]
        assert scanned(KeyRange(partition="2026-01-02", stop="b")) == ["2026-01-02/a"]
        assert scanned(KeyRange(partitions_before="2026-01-02", start="b", stop="c")) == ["2026-01-01/b"]
        assert scanned(KeyRange(partitions_after="2026-01-01", stop="b")) == ["2026-01-02/a", "2026-01-03/a"]
        assert scanned(KeyRange(stop="b")) == ["2026-01-01/a", "2026-01-02/a", "2026-01-03/a"]
        assert len(scanned(KeyRange())) == 9

    def test_scan_keeps_documents_satisfying_every_clause(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("p", "1", {}, {"kind": "a", "env": "prod"}))
        tables.insert("Things", Document("p", "2", {}, {"kind": "b", "env": "prod"}))
        tables.insert("Things", Document("p", "3", {}, {"kind": "c", "env": "prod", "many": True}))
        tables.insert("Things", Document("p", "4", {}, {"kind": "a", "env": "dev"}))
        clauses = [AnyOf((("kind", "a"), ("many", True))), AnyOf((("env", "prod"),))]
        assert [document.row for document in tables.scan("Things", KeyRange(partition="p"), clauses)] == ["1", "3"]

    def test_a_scan_stopped_early_leaves_the_rest_unread(self, tables: DocumentTables) -> None:
        for row in range(5):
            tables.insert("Things", Document("p", str(row), {"n": row}))
        scan = tables.scan("Things", KeyRange(partition="p"), batch=2)
        assert [next(scan).row, next(scan).row, next(scan).row] == ["0", "1", "2"]

    def test_a_transaction_deletes_a_partitions_rows_with_or_without_their_etag(self, tables: DocumentTables) -> None:
        for row in ("a", "b", "c"):
            tables.insert("Things", Document("p", row, {}))
        tables.insert("Things", Document("q", "a", {}))
        etag = tables.get("Things", "p", "b").etag
        deletes = [Write("delete", Document("p", "a", {})), Write("delete", Document("p", "b", {}, etag=etag))]
        tables.transact("Things", deletes)
        assert [(d.partition, d.row) for d in tables.scan("Things", KeyRange())] == [("p", "c"), ("q", "a")]

    def test_a_transaction_deletes_nothing_when_one_row_is_gone_or_changed(self, tables: DocumentTables) -> None:
        tables.insert("Things", Document("p", "a", {}))
        stale = tables.get("Things", "p", "a").etag
        tables.replace("Things", Document("p", "a", {"v": 2}, etag=stale))
        tables.insert("Things", Document("p", "b", {}))
        with pytest.raises(NotFound):
            tables.transact("Things", [Write("delete", Document("p", row, {})) for row in ("b", "gone")])
        with pytest.raises(ConcurrencyConflict):
            stale_delete = Write("delete", Document("p", "a", {}, etag=stale))
            tables.transact("Things", [Write("delete", Document("p", "b", {})), stale_delete])
        assert [d.row for d in tables.scan("Things", KeyRange(partition="p"))] == ["a", "b"]

    def test_a_transaction_of_inserts_stores_every_document_or_none(self, tables: DocumentTables) -> None:
        tables.transact(
            "Things", [Write("insert", Document("p/1", f"r{n}", {"n": n}, {"kind": "x"})) for n in range(3)]
        )
        assert [(d.row, d.body["n"]) for d in tables.scan("Things", KeyRange(partition="p/1"))] == [
            ("r0", 0),
            ("r1", 1),
            ("r2", 2),
        ]
        tables.insert("Things", Document("p", "r1", {"first": True}))
        with pytest.raises(AlreadyExists):
            tables.transact("Things", [Write("insert", Document("p", f"r{n}", {})) for n in range(3)])
        assert [(d.row, d.body) for d in tables.query("Things", "p")] == [("r1", {"first": True})]

    def test_batches_group_by_partition_within_the_transaction_limit(self) -> None:
        documents = [Document(f"p{n % 2}", f"r{n:03d}", {}) for n in range(250)]
        groups = list(batches(documents))
        assert [(group[0].partition, len(group)) for group in groups] == [
            ("p0", 100),
            ("p0", 25),
            ("p1", 100),
            ("p1", 25),
        ]
