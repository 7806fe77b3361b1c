"""Idempotency keys over document tables: PartitionKey=key, RowKey="request", the deployment it started."""

from __future__ import annotations

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.errors import AlreadyExists

TABLE = "IdempotencyKeys"
ROW = "request"


class DocumentIdempotencyKeys:
    """The IdempotencyKeys port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def remember_request(self, idempotency_key: str, deployment_id: str) -> str:
        try:
            self._tables.insert(TABLE, Document(idempotency_key, ROW, {"deploymentId": deployment_id}))
            return deployment_id
        except AlreadyExists:
            bound: str = self._tables.get(TABLE, idempotency_key, ROW).body["deploymentId"]
            return bound
