"""Document tables on Azure Table storage (``azure-data-tables``); Azurite locally.

Layout of an entity: ``PartitionKey``/``RowKey`` (percent-escaped, since Table keys forbid ``/ \\ # ?``
and control characters), the index columns as typed properties, and the JSON body split over string
properties ``Body0..BodyN`` because one string property holds at most 64 KiB (32K UTF-16 characters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.data.tables import (
    TableClient,
    TableEntity,
    TableServiceClient,
    TableTransactionError,
    UpdateMode,
)

from controlplane.adapters.azure.errors import translated
from controlplane.adapters.storage.documents import (
    AnyOf,
    Document,
    IndexValue,
    KeyRange,
    Write,
    check_transaction,
)
from controlplane.errors import AlreadyExists, NotFound, PermanentError

CHUNK_CHARS = 30_000
MAX_CHUNKS = 15  # an entity holds at most 1 MiB
_BODY = re.compile(r"^Body(\d+)$")
_RESERVED = {"PartitionKey", "RowKey", "Timestamp", "BodyParts"}
_KEY_UNSAFE = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")


def escape_key(key: str) -> str:
    return _KEY_UNSAFE.sub(lambda match: quote(match.group(), safe=""), key)


def unescape_key(key: str) -> str:
    return unquote(key)


class AzureTableDocuments:
    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self._prefix = prefix
        self._clients: dict[str, TableClient] = {}  # building a client builds its pipeline: reuse them

    def create_tables(self, tables: list[str]) -> None:
        for table in tables:
            with translated(f"create table {self._name(table)}"):
                self._service.create_table_if_not_exists(self._name(table))

    def get(self, table: str, partition: str, row: str) -> Document:
        with translated(f"{table} get {partition}/{row}"):
            entity = self._client(table).get_entity(escape_key(partition), escape_key(row))
        return _to_document(entity)

    def insert(self, table: str, document: Document) -> str:
        with translated(f"{table} insert {document.partition}/{document.row}"):
            result = self._client(table).create_entity(_to_entity(document))
        return result["etag"]

    def replace(self, table: str, document: Document) -> str:
        if document.etag is None:
            raise ValueError("replace needs the etag of the version that was read")
        with translated(f"{table} replace {document.partition}/{document.row}"):
            result = self._client(table).update_entity(
                _to_entity(document),
                mode=UpdateMode.REPLACE,
                etag=document.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        return result["etag"]

    def upsert(self, table: str, document: Document) -> str:
        with translated(f"{table} upsert {document.partition}/{document.row}"):
            result = self._client(table).upsert_entity(_to_entity(document), mode=UpdateMode.REPLACE)
        return result["etag"]

    def delete(self, table: str, partition: str, row: str, etag: str | None = None) -> None:
        condition = MatchConditions.IfNotModified if etag else MatchConditions.Unconditionally
        with translated(f"{table} delete {partition}/{row}"):
            self._client(table).delete_entity(
                escape_key(partition), escape_key(row), etag=etag, match_condition=condition
            )

    def transact(self, table: str, writes: Sequence[Write]) -> list[str]:
        """One entity group transaction (``submit_transaction``): the service applies it all or none."""
        check_transaction(writes)
        operations = [_operation(write) for write in writes]
        what = f"{table} transaction of {len(writes)} in {writes[0].document.partition}"
        with translated(what), _failed_write(what, writes):
            results = self._client(table).submit_transaction(operations)
        return [result.get("etag", "") for result in results]  # a delete answers no etag

    def query(
        self, table: str, partition: str | None = None, where: Mapping[str, IndexValue] | None = None
    ) -> Iterator[Document]:
        conditions: dict[str, IndexValue] = dict(where or {})
        if partition is not None:
            conditions["PartitionKey"] = escape_key(partition)
        clauses = [f"{name} eq @p{number}" for number, name in enumerate(conditions)]
        parameters = {f"p{number}": value for number, value in enumerate(conditions.values())}
        client = self._client(table)
        with translated(f"{table} query"):
            if clauses:
                entities = list(client.query_entities(" and ".join(clauses), parameters=parameters))
            else:
                entities = list(client.list_entities())
        return iter(_to_document(entity) for entity in entities)

    def scan(self, table: str, keys: KeyRange, clauses: Sequence[AnyOf] = (), batch: int = 1000) -> Iterator[Document]:
        """One OData filter: the key range (escaped as the keys are) and each clause as an ``or`` group; the
        service pages the answer in key order and the pager fetches the next page only when it is read."""
        parameters: dict[str, IndexValue] = {}

        def parameter(value: IndexValue) -> str:
            name = f"p{len(parameters)}"
            parameters[name] = value
            return f"@{name}"

        bounds = (
            ("PartitionKey eq", keys.partition),
            ("PartitionKey lt", keys.partitions_before),
            ("PartitionKey gt", keys.partitions_after),
            ("RowKey ge", keys.start),
            ("RowKey lt", keys.stop),
        )
        terms = [f"{test} {parameter(escape_key(key))}" for test, key in bounds if key is not None]
        for clause in clauses:
            # Spaces around the parentheses: the SDK finds the @names by splitting the filter on spaces.
            terms.append("( " + " or ".join(f"{name} eq {parameter(value)}" for name, value in clause.equals) + " )")
        client = self._client(table)
        with translated(f"{table} scan"):
            if terms:
                pages = client.query_entities(" and ".join(terms), parameters=parameters, results_per_page=batch)
            else:
                pages = client.list_entities(results_per_page=batch)
        return _documents(pages, f"{table} scan")

    def _client(self, table: str) -> TableClient:
        client = self._clients.get(table)
        if client is None:
            client = self._clients[table] = self._service.get_table_client(self._name(table))
        return client

    def _name(self, table: str) -> str:
        return f"{self._prefix}{table}"


def _operation(write: Write) -> tuple[Any, ...]:
    if write.kind == "delete":
        keys = {"PartitionKey": escape_key(write.document.partition), "RowKey": escape_key(write.document.row)}
        etag = write.document.etag
        condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        return ("delete", keys, condition)
    entity = _to_entity(write.document)
    if write.kind == "insert":
        return ("create", entity)
    if write.kind == "upsert":
        return ("upsert", entity, {"mode": UpdateMode.REPLACE})
    condition = {"etag": write.document.etag, "match_condition": MatchConditions.IfNotModified}
    return ("update", entity, {"mode": UpdateMode.REPLACE, **condition})


@contextmanager
def _failed_write(what: str, writes: Sequence[Write]) -> Iterator[None]:
    """A refused transaction as the failing write alone fails: the service answers one error for the whole batch
    (``TableTransactionError``, its status the failing operation's), which the SDK does not map to
    ResourceExistsError / ResourceNotFoundError as it does for a single write. 412 stays with ``translated``."""
    try:
        yield
    except TableTransactionError as error:
        failing = writes[error.index].document if 0 <= error.index < len(writes) else writes[0].document
        where = f"{what}: {failing.partition}/{failing.row}"
        if error.status_code == 409 and getattr(error, "error_code", None) == "EntityAlreadyExists":
            raise AlreadyExists(f"{where} already exists") from error
        if error.status_code == 404:
            raise NotFound(f"{where} not found") from error
        raise


def _documents(entities: Iterable[TableEntity], what: str) -> Iterator[Document]:
    """The entities as documents; a page fetched while reading is translated like any other call."""
    with translated(what):
        for entity in entities:
            yield _to_document(entity)


def _to_entity(document: Document) -> dict[str, Any]:
    body = json.dumps(document.body, separators=(",", ":"), sort_keys=True)
    chunks = [body[start : start + CHUNK_CHARS] for start in range(0, len(body), CHUNK_CHARS)] or [""]
    if len(chunks) > MAX_CHUNKS:
        raise PermanentError(
            f"document {document.partition}/{document.row} is {len(body)} characters; "
            f"Table storage holds at most {CHUNK_CHARS * MAX_CHUNKS}"
        )
    clashing = [name for name in document.index if name in _RESERVED or _BODY.match(name)]
    if clashing:
        raise ValueError(f"index columns {clashing} clash with reserved property names")
    entity: dict[str, Any] = {
        "PartitionKey": escape_key(document.partition),
        "RowKey": escape_key(document.row),
        "BodyParts": len(chunks),
        **document.index,
    }
    entity.update({f"Body{number}": chunk for number, chunk in enumerate(chunks)})
    return entity


def _to_document(entity: TableEntity) -> Document:
    parts = int(entity["BodyParts"])
    body = "".join(entity[f"Body{number}"] for number in range(parts))
    index = {name: value for name, value in entity.items() if name not in _RESERVED and not _BODY.match(name)}
    return Document(
        partition=unescape_key(entity["PartitionKey"]),
        row=unescape_key(entity["RowKey"]),
        body=json.loads(body),
        index=index,
        etag=entity.metadata["etag"],
    )
