"""Deleting finished deployments past their retention, found through the listing's index (see ``deployments``).

The index's every-deployment partition is ordered newest first (inverted creation time), so the deployments
created before a horizon are one key range from the horizon's row on. Each expired one is deleted with every row
of its partition (the record and whatever else is kept under the deployment's id), then its summaries: the
record goes first so that a crash in between leaves summaries the next run finds (by the same range) and
finishes, never a record no run can find. Partitions go one transaction each, summaries 100 a transaction.

Kept whatever their age: a deployment not terminal, one finished after the horizon, one the caller names
(``keep``: the catalog's, a remediating finding's, a restore in progress), and the two newest Completed
deployments of each of its services: the service's current release and the one a rollback of it deploys again
(``services.deployments.previous_completed``).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any

from controlplane.adapters.storage.deployments import INDEX, SERVICE_INDEX, TABLE
from controlplane.adapters.storage.documents import TRANSACTION_ROWS, AnyOf, Document, DocumentTables, KeyRange
from controlplane.adapters.storage.purging import delete_documents
from controlplane.domain.audit import row_bound
from controlplane.domain.deployment import DEPLOYMENT_MACHINE, DeploymentState
from controlplane.domain.events import parse_time

_EVERY = "*"
_COMPLETED = AnyOf((("state", DeploymentState.COMPLETED.value),))
# Completed deployments of a service that are never expired: its current one and what a rollback restores.
COMPLETED_KEPT = 2


class DocumentDeploymentRetention:
    """The DeploymentRetention port over the tables of ``DocumentDeployments``."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def purge_deployments(self, before: datetime, keep: Collection[str], limit: int) -> int:
        """The expired deployments in index order (the newest of them first), ``TRANSACTION_ROWS`` at a time."""
        floors: dict[str, str | None] = {}
        expired = (
            summary
            for summary in self._tables.scan(INDEX, KeyRange(partition=_EVERY, start=row_bound(before)))
            if _finished_before(summary.body, before)
            and summary.body["id"] not in keep
            and not (
                summary.body["state"] == DeploymentState.COMPLETED.value
                and any(self._restorable(service, summary.row, floors) for service in summary.body["services"])
            )
        )
        deleted = 0
        while chunk := list(itertools.islice(expired, min(TRANSACTION_ROWS, limit - deleted))):
            for summary in chunk:
                partition = self._tables.scan(TABLE, KeyRange(partition=summary.body["id"]))
                delete_documents(self._tables, TABLE, partition, conditional=False)
            by_service = sorted((service, summary.row) for summary in chunk for service in summary.body["services"])
            delete_documents(self._tables, SERVICE_INDEX, _rows(by_service), conditional=False)
            delete_documents(self._tables, INDEX, chunk, conditional=False)
            deleted += len(chunk)
        return deleted

    def _restorable(self, service: str, row: str, floors: dict[str, str | None]) -> bool:
        """Whether the Completed deployment at index ``row`` is one of ``service``'s ``COMPLETED_KEPT`` newest
        Completed ones (the floor: the row of the last of them, read once per purge and service)."""
        if service not in floors:
            newest = self._tables.scan(SERVICE_INDEX, KeyRange(partition=service), [_COMPLETED], COMPLETED_KEPT)
            kept = list(itertools.islice(newest, COMPLETED_KEPT))
            floors[service] = kept[-1].row if len(kept) == COMPLETED_KEPT else None
        floor = floors[service]
        return floor is None or row <= floor


def _finished_before(summary: Mapping[str, Any], before: datetime) -> bool:
    terminal = DEPLOYMENT_MACHINE.is_terminal(DeploymentState(summary["state"]))
    return terminal and parse_time(summary["updatedAt"]) < before


def _rows(keys: list[tuple[str, str]]) -> Iterator[Document]:
    return (Document(partition, row, {}) for partition, row in keys)
