"""Deployments over document tables, and the index their listing reads.

    Deployments             PartitionKey=deployment id  RowKey="deployment"            the record; index columns
                                                                                        environment, state, createdAt
    DeploymentIndex         PartitionKey="*"            RowKey=inverted createdAt|id  every deployment's summary (the
                                                                                        listing's view), columns
    DeploymentServiceIndex  PartitionKey=service        RowKey=inverted createdAt|id  environment and state

Every write of a record names the etag it read, so a lost race is a conflict. The index holds one summary per
deployment in DeploymentIndex and one in the partition of each of its services in DeploymentServiceIndex (two
tables: Azurite reads a whole table for any query, so the listing of everything reads no service's rows), so a
page of the listing (newest first: the row key inverts the time) is one key-range read of one partition, filtered on the
environment and state columns by the table service. A summary is written after its record, then the record is
read again: a writer whose record was overtaken meanwhile writes the newer summary, so the last write of a
summary is never an older version's. A crash between the two writes leaves the summary one save behind until
the next save of the deployment.

A page is served from this instance's memory while nothing listed changed (``listing_cache``: every write of the
index bumps the listing's version row after its rows, so a request costs one point read when nothing changed, and a
pipeline that creates then lists, on any instance, sees what it created). ``python -m controlplane reindex``
(``reindex``) writes the index of deployments stored before it existed.

The releases of finished deployments are kept in memory (``RELEASES_KEPT``, least recently used dropped): the
control loops read the release of every promoted service on every tick, and a finished deployment's release
can never change, so after the first tick that read costs no table operation.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace

from controlplane.adapters.storage.documents import MAX_UPDATE_ATTEMPTS, AnyOf, Document, DocumentTables, KeyRange
from controlplane.adapters.storage.listing_cache import ListingCache
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.deployment_summary import (
    DeploymentPage,
    DeploymentPosition,
    DeploymentQuery,
    index_row,
    summary_of,
)
from controlplane.domain.events import format_time
from controlplane.domain.manifest import Release
from controlplane.errors import ConcurrencyConflict, NotFound

TABLE = "Deployments"
INDEX = "DeploymentIndex"
SERVICE_INDEX = "DeploymentServiceIndex"
ROW = "deployment"
RELEASES_KEPT = 10_000  # a few KB each: tens of MB at most, for 10,000 services' promoted releases
_EVERY = "*"


class DocumentDeployments:
    """The Deployments port over any DocumentTables (its tables created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables
        self._releases: OrderedDict[str, Release] = OrderedDict()
        self._lock = threading.Lock()
        self._pages: ListingCache[DeploymentPage] = ListingCache(tables, "deployments")

    def create_deployment(self, deployment: Deployment) -> Deployment:
        created = replace(deployment, etag=self._tables.insert(TABLE, _document(deployment)))
        self._index(created)
        return created

    def get_deployment(self, deployment_id: str) -> Deployment:
        document = self._tables.get(TABLE, deployment_id, ROW)
        return Deployment.from_dict(document.body, etag=document.etag)

    def get_release(self, deployment_id: str) -> Release:
        with self._lock:
            kept = self._releases.get(deployment_id)
            if kept is not None:
                self._releases.move_to_end(deployment_id)
                return kept
        deployment = self.get_deployment(deployment_id)
        if deployment.is_terminal:  # an unfinished one may yet be deleted and its (keyed) id used again
            with self._lock:
                self._releases[deployment_id] = deployment.release
                if len(self._releases) > RELEASES_KEPT:
                    self._releases.popitem(last=False)
        return deployment.release

    def save_deployment(self, deployment: Deployment) -> Deployment:
        saved = replace(deployment, etag=self._tables.replace(TABLE, _document(deployment)))
        self._index(saved)
        return saved

    def update_deployment(self, deployment_id: str, change: Callable[[Deployment], Deployment]) -> Deployment:
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            current = self.get_deployment(deployment_id)
            try:
                return self.save_deployment(change(current))
            except ConcurrencyConflict:
                # Jittered backoff keeps racing writers from colliding in lockstep.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ConcurrencyConflict(f"deployment {deployment_id}: gave up after {MAX_UPDATE_ATTEMPTS} lost races")

    def delete_deployment(self, deployment_id: str) -> None:
        """The index first: a crash in between leaves a record no listing shows (as before it was indexed)."""
        try:
            stored = self.get_deployment(deployment_id)
        except NotFound:
            return
        for table, partition in summary_places(stored):
            self._tables.delete(table, partition, index_row(DeploymentPosition.of(stored)))
        self._pages.changed()
        self._tables.delete(TABLE, deployment_id, ROW)

    def list_deployments(
        self, environment: str | None = None, service: str | None = None, state: DeploymentState | None = None
    ) -> list[Deployment]:
        where = ({"environment": environment} if environment else {}) | ({"state": state.value} if state else {})
        deployments = [
            Deployment.from_dict(document.body, etag=document.etag)
            for document in self._tables.query(TABLE, where=where)
        ]
        if service:
            deployments = [deployment for deployment in deployments if service in deployment.services]
        return sorted(deployments, key=lambda deployment: (deployment.created_at, deployment.id), reverse=True)

    def page_deployments(self, query: DeploymentQuery) -> DeploymentPage:
        """The page kept since the listing last changed (``now`` only anchors how the index is read), or read."""
        key = (query.environment, query.service, query.state, query.limit, query.start)
        return self._pages.page(key, lambda: self._read_page(query))

    def _read_page(self, query: DeploymentQuery) -> DeploymentPage:
        """One partition of the index, window by window (``DeploymentQuery.row_ranges``) until ``limit + 1`` rows
        are found: the extra one is where the next page starts."""
        table, partition = (INDEX, _EVERY) if query.service is None else (SERVICE_INDEX, query.service)
        clauses = [AnyOf(((name, value),)) for name, value in _columns(query).items()]
        found: list[Document] = []
        for start, stop in query.row_ranges():
            wanted = query.limit + 1 - len(found)
            keys = KeyRange(partition=partition, start=start, stop=stop)
            found.extend(itertools.islice(self._tables.scan(table, keys, clauses, wanted), wanted))
            if len(found) > query.limit:
                break
        following = None
        if len(found) > query.limit:
            following = DeploymentPosition(found[-1].body["createdAt"], found[-1].body["id"])
        return DeploymentPage([document.body for document in found[: query.limit]], following)

    def reindex(self, deployments: Iterable[Deployment]) -> None:
        """Write the summaries of stored ``deployments`` as a save would (``reindex``), then bump the listing once."""
        for deployment in deployments:
            self._write_summaries(deployment)
        self._pages.changed()

    def _index(self, deployment: Deployment) -> None:
        self._write_summaries(deployment)
        self._pages.changed()

    def _write_summaries(self, deployment: Deployment) -> None:
        for _ in range(MAX_UPDATE_ATTEMPTS):
            for table, summary in summary_documents(deployment):
                self._tables.upsert(table, summary)
            stored = self._tables.get(TABLE, deployment.id, ROW)
            if stored.etag == deployment.etag:
                return
            deployment = Deployment.from_dict(stored.body, etag=stored.etag)
        # Still overtaken: writers keep saving, and the last of them indexes its own version after it. Not a
        # conflict: this record's write stands (a caller retrying it would apply its change twice).


def summary_places(deployment: Deployment) -> list[tuple[str, str]]:
    """The (table, partition) of each of the deployment's summaries."""
    return [(INDEX, _EVERY), *((SERVICE_INDEX, service) for service in deployment.services)]


def summary_documents(deployment: Deployment) -> list[tuple[str, Document]]:
    """The deployment's summaries as the index holds them, each with its table."""
    summary = summary_of(deployment)
    columns = {"environment": deployment.environment, "state": deployment.state.value}
    row = index_row(DeploymentPosition.of(deployment))
    return [
        (table, Document(partition, row, summary, index=columns)) for table, partition in summary_places(deployment)
    ]


def _columns(query: DeploymentQuery) -> dict[str, str]:
    columns = {"environment": query.environment} if query.environment is not None else {}
    return columns | ({"state": query.state.value} if query.state is not None else {})


def _document(deployment: Deployment) -> Document:
    return Document(
        deployment.id,
        ROW,
        deployment.to_dict(),
        index={
            "environment": deployment.environment,
            "state": deployment.state.value,
            "createdAt": format_time(deployment.created_at),
        },
        etag=deployment.etag,
    )
