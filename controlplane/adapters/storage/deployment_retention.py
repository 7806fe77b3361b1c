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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from controlplane.adapters.storage.deployment_summaries import EVERY, INDEX, SERVICE_INDEX
from controlplane.adapters.storage.deployments import LISTING, TABLE
from controlplane.adapters.storage.documents import MAX_TRANSACTION_WRITES, AnyOf, Document, DocumentTables, KeyRange
from controlplane.adapters.storage.listing_cache import bump_version
from controlplane.adapters.storage.purging import CONCURRENCY, delete_documents
from controlplane.domain.audit import row_bound
from controlplane.domain.deployment import DEPLOYMENT_MACHINE, DeploymentState
from controlplane.domain.events import parse_time

_COMPLETED = AnyOf((("state", DeploymentState.COMPLETED.value),))
# Completed deployments of a service that are never expired: its current one and what a rollback restores.
COMPLETED_KEPT = 2


class DocumentDeploymentRetention:
    """The DeploymentRetention port over the tables of ``DocumentDeployments``."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def purge_deployments(self, before: datetime, keep: Collection[str], limit: int) -> int:
        """The expired deployments in index order (the newest of them first), ``MAX_TRANSACTION_WRITES`` candidates at a
        time: their services' floors and their partitions read ``CONCURRENCY`` at once, then deleted."""
        floors: dict[str, str | None] = {}
        candidates = (
            summary
            for summary in self._tables.scan(INDEX, KeyRange(partition=EVERY, start=row_bound(before)))
            if _finished_before(summary.body, before) and summary.body["id"] not in keep
        )
        deleted = 0
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            while deleted < limit and (batch := list(itertools.islice(candidates, MAX_TRANSACTION_WRITES))):
                unread = {service for summary in batch for service in summary.body["services"]} - floors.keys()
                floors.update(zip(unread, pool.map(self._floor, unread), strict=True))
                chunk = [summary for summary in batch if not _restorable(summary, floors)][: limit - deleted]
                partitions = pool.map(lambda summary: list(self._partition(summary.body["id"])), chunk)
                delete_documents(self._tables, TABLE, itertools.chain.from_iterable(partitions), conditional=False)
                by_service = sorted((service, summary.row) for summary in chunk for service in summary.body["services"])
                delete_documents(self._tables, SERVICE_INDEX, _rows(by_service), conditional=False)
                delete_documents(self._tables, INDEX, chunk, conditional=False)
                bump_version(self._tables, LISTING)  # pages other instances kept may show what went
                deleted += len(chunk)
        return deleted

    def _partition(self, deployment_id: str) -> Iterator[Document]:
        return self._tables.scan(TABLE, KeyRange(partition=deployment_id))

    def _floor(self, service: str) -> str | None:
        """The index row of ``service``'s ``COMPLETED_KEPT``-th newest Completed deployment (None: it has fewer)."""
        newest = self._tables.scan(SERVICE_INDEX, KeyRange(partition=service), [_COMPLETED], COMPLETED_KEPT)
        kept = list(itertools.islice(newest, COMPLETED_KEPT))
        return kept[-1].row if len(kept) == COMPLETED_KEPT else None


def _restorable(summary: Document, floors: Mapping[str, str | None]) -> bool:
    """Whether the deployment is Completed and one of the ``COMPLETED_KEPT`` newest Completed of one of its services
    (at or above the service's floor: the index's rows run newest first)."""
    if summary.body["state"] != DeploymentState.COMPLETED.value:
        return False
    return any((floor := floors[service]) is None or summary.row <= floor for service in summary.body["services"])


def _finished_before(summary: Mapping[str, Any], before: datetime) -> bool:
    terminal = DEPLOYMENT_MACHINE.is_terminal(DeploymentState(summary["state"]))
    return terminal and parse_time(summary["updatedAt"]) < before


def _rows(keys: list[tuple[str, str]]) -> Iterator[Document]:
    return (Document(partition, row, {}) for partition, row in keys)
