"""The host's tables on Azure Table storage (``azure-data-tables``); Azurite locally.

An entity's properties: ``PartitionKey``/``RowKey`` (percent-escaped, since Table keys forbid ``/ \\ # ?``
and control characters), the index properties as typed properties, and the JSON body split over string
properties ``Body0..BodyN`` (``BodyParts`` of them), because one string property holds at most 64 KiB
(32K UTF-16 characters) and an entity at most 1 MiB.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.data.tables import TableClient, TableEntity, TableServiceClient, UpdateMode

from funchost.errors import PermanentError
from funchost.storage.azure_errors import translated
from funchost.storage.tables import Entity, IndexValue

CHUNK_CHARS = 30_000
MAX_CHUNKS = 15
_BODY = re.compile(r"^Body(\d+)$")
_RESERVED = {"PartitionKey", "RowKey", "Timestamp", "BodyParts"}
_KEY_UNSAFE = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")


class AzureTables:
    """Tables named ``prefix + table`` on one Table service."""

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self._prefix = prefix
        self._clients: dict[str, TableClient] = {}  # building a client builds its pipeline: reuse them

    def create_tables(self, tables: list[str]) -> None:
        for table in tables:
            with translated(f"create table {self._name(table)}"):
                self._service.create_table_if_not_exists(self._name(table))

    def get(self, table: str, partition: str, row: str) -> Entity:
        with translated(f"{table} get {partition}/{row}"):
            properties = self._client(table).get_entity(_escape(partition), _escape(row))
        return _entity(properties)

    def insert(self, table: str, entity: Entity) -> str:
        with translated(f"{table} insert {entity.partition}/{entity.row}"):
            return self._client(table).create_entity(_properties(entity))["etag"]

    def replace(self, table: str, entity: Entity) -> str:
        if entity.etag is None:
            raise ValueError("replace needs the etag of the version that was read")
        with translated(f"{table} replace {entity.partition}/{entity.row}"):
            result = self._client(table).update_entity(
                _properties(entity),
                mode=UpdateMode.REPLACE,
                etag=entity.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        return result["etag"]

    def upsert(self, table: str, entity: Entity) -> str:
        with translated(f"{table} upsert {entity.partition}/{entity.row}"):
            return self._client(table).upsert_entity(_properties(entity), mode=UpdateMode.REPLACE)["etag"]

    def delete(self, table: str, partition: str, row: str) -> None:
        with translated(f"{table} delete {partition}/{row}"):
            self._client(table).delete_entity(_escape(partition), _escape(row))

    def query(
        self, table: str, partition: str | None = None, where: Mapping[str, IndexValue] | None = None
    ) -> Iterator[Entity]:
        conditions: dict[str, IndexValue] = dict(where or {})
        if partition is not None:
            conditions["PartitionKey"] = _escape(partition)
        clauses = [f"{name} eq @p{number}" for number, name in enumerate(conditions)]
        parameters = {f"p{number}": value for number, value in enumerate(conditions.values())}
        client = self._client(table)
        with translated(f"{table} query"):
            if clauses:
                found = list(client.query_entities(" and ".join(clauses), parameters=parameters))
            else:
                found = list(client.list_entities())
        return iter(_entity(properties) for properties in found)

    def _client(self, table: str) -> TableClient:
        client = self._clients.get(table)
        if client is None:
            client = self._clients[table] = self._service.get_table_client(self._name(table))
        return client

    def _name(self, table: str) -> str:
        return f"{self._prefix}{table}"


def _escape(key: str) -> str:
    return _KEY_UNSAFE.sub(lambda match: quote(match.group(), safe=""), key)


def _properties(entity: Entity) -> dict[str, Any]:
    body = json.dumps(entity.body, separators=(",", ":"), sort_keys=True)
    chunks = [body[start : start + CHUNK_CHARS] for start in range(0, len(body), CHUNK_CHARS)] or [""]
    if len(chunks) > MAX_CHUNKS:
        raise PermanentError(
            f"entity {entity.partition}/{entity.row} is {len(body)} characters; "
            f"Table storage holds at most {CHUNK_CHARS * MAX_CHUNKS}"
        )
    clashing = [name for name in entity.index if name in _RESERVED or _BODY.match(name)]
    if clashing:
        raise ValueError(f"index properties {clashing} clash with reserved property names")
    properties: dict[str, Any] = {
        "PartitionKey": _escape(entity.partition),
        "RowKey": _escape(entity.row),
        "BodyParts": len(chunks),
        **entity.index,
    }
    properties.update({f"Body{number}": chunk for number, chunk in enumerate(chunks)})
    return properties


def _entity(properties: TableEntity) -> Entity:
    parts = int(properties["BodyParts"])
    body = "".join(properties[f"Body{number}"] for number in range(parts))
    index = {name: value for name, value in properties.items() if name not in _RESERVED and not _BODY.match(name)}
    return Entity(
        partition=unquote(properties["PartitionKey"]),
        row=unquote(properties["RowKey"]),
        body=json.loads(body),
        index=index,
        etag=properties.metadata["etag"],
    )
