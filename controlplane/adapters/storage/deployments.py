"""Deployments over document tables, and the index their listing reads.

    Deployments             PartitionKey=deployment id  RowKey="deployment"            the record but its services'
                                                                                        progress; index columns
                                                                                        environment, state, createdAt
                            PartitionKey=deployment id  RowKey="service|<name>"        one service's progress
    DeploymentIndex         PartitionKey="*"            RowKey=inverted createdAt|id  every deployment's summary (the
                                                                                        listing's view), columns
    DeploymentServiceIndex  PartitionKey=service        RowKey=inverted createdAt|id  environment, state, sequences

A record is its partition of Deployments (``deployment_rows`` says why a row per service, and how records stored
before the rows read): one query reads it, one transaction creates it, and a save writes only the parts it
changed, each on the condition that it is as it was read, so a lost race is a conflict and a write of another
part is not. A service's progress is written alone (``update_service``): one row, its own etag.

The index holds one summary per deployment in DeploymentIndex and one in the partition of each of its services in
DeploymentServiceIndex (two tables: Azurite reads a whole table for any query, so the listing of everything reads
no service's rows), so a page of the listing (newest first: the row key inverts the time) is one key-range read of
one partition, filtered on the environment and state columns by the table service. A summary is written after its
record, and only over an older one (``deployment_summaries``: every writer of a deployment writes them, concurrently),
so the summary in each place ends as the newest record's. A crash between the two writes leaves the summary one write
behind until the next write of the deployment. A progress write that changes nothing a summary shows (a probe's
result) writes no summary.

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
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace

from controlplane.adapters.storage.deployment_rows import (
    PROGRESS,
    PROGRESS_END,
    ROW,
    Partition,
    Version,
    document_of,
    row_of,
    save_writes,
    sequence_of,
)
from controlplane.adapters.storage.deployment_summaries import EVERY, INDEX, SERVICE_INDEX, places, write_summaries
from controlplane.adapters.storage.documents import (
    MAX_UPDATE_ATTEMPTS,
    AnyOf,
    Document,
    DocumentTables,
    KeyRange,
    Write,
)
from controlplane.adapters.storage.listing_cache import ListingCache
from controlplane.domain.deployment import Deployment, DeploymentState, ServiceProgress
from controlplane.domain.deployment_summary import (
    SUMMARY_PROGRESS,
    DeploymentPage,
    DeploymentPosition,
    DeploymentQuery,
    index_row,
)
from controlplane.domain.manifest import Release
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound

TABLE = "Deployments"
LISTING = "deployments"  # the listing's name in ListingVersions
RELEASES_KEPT = 10_000  # a few KB each: tens of MB at most, for 10,000 services' promoted releases


class DocumentDeployments:
    """The Deployments port over any DocumentTables (its tables created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables
        self._releases: OrderedDict[str, Release] = OrderedDict()
        self._lock = threading.Lock()
        self._pages: ListingCache[DeploymentPage] = ListingCache(tables, LISTING)

    def create_deployment(self, deployment: Deployment) -> Deployment:
        """The document and every row in one transaction; rows are upserted, so rows a crashed
        ``delete_deployment`` left behind (it removes the document first) never block the id's reuse."""
        rows = [
            Write("upsert", row_of(deployment.id, name, progress)) for name, progress in deployment.services.items()
        ]
        writes = [Write("insert", document_of(deployment)), *rows]
        etags = self._tables.transact(TABLE, writes)
        stored = Partition.of(deployment.id, [replace(w.document, etag=e) for w, e in zip(writes, etags, strict=True)])
        self._index(stored)
        return replace(deployment, etag=stored.deployment().etag)

    def get_deployment(self, deployment_id: str) -> Deployment:
        return self.read_partition(deployment_id).deployment()

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
        return self._save(deployment, self.read_partition(deployment.id))

    def update_deployment(self, deployment_id: str, change: Callable[[Deployment], Deployment]) -> Deployment:
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            stored = self.read_partition(deployment_id)
            try:
                return self._save(change(stored.deployment()), stored)
            except ConcurrencyConflict:
                _back_off(attempt)
        raise ConcurrencyConflict(f"deployment {deployment_id}: gave up after {MAX_UPDATE_ATTEMPTS} lost races")

    def update_service(
        self, deployment_id: str, service: str, change: Callable[[ServiceProgress], ServiceProgress]
    ) -> ServiceProgress:
        """One query and one write of the service's row; the summaries too when what they show changed."""
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            stored = self.read_partition(deployment_id)
            current = stored.progress(service)
            updated = change(current)
            if updated == current:
                return current
            row = stored.rows.get(service)
            if row is None:  # stored before rows: its first row (a concurrent first write makes this one retry)
                written = row_of(deployment_id, service, updated, sequence=1)
            else:
                written = row_of(deployment_id, service, updated, row.etag, sequence_of(row) + 1)
            try:
                etag = self._tables.replace(TABLE, written) if row else self._tables.insert(TABLE, written)
            except (ConcurrencyConflict, AlreadyExists):
                _back_off(attempt)
                continue
            if _summarised(current) != _summarised(updated):
                self._index(stored.written([replace(written, etag=etag)]))
            return updated
        raise ConcurrencyConflict(
            f"deployment {deployment_id}: {service} gave up after {MAX_UPDATE_ATTEMPTS} lost races"
        )

    def delete_deployment(self, deployment_id: str) -> None:
        """The index first: a crash in between leaves a record no listing shows (as before it was indexed); then
        the document, then the rows (left behind by a crash, they are overwritten when the id is used again)."""
        try:
            stored = self.read_partition(deployment_id)
        except NotFound:
            return
        deployment = stored.deployment()
        for table, partition in places(deployment):
            self._tables.delete(table, partition, index_row(DeploymentPosition.of(deployment)))
        self._pages.changed()
        self._tables.delete(TABLE, deployment_id, ROW)
        for row in stored.rows.values():
            self._tables.delete(TABLE, deployment_id, row.row)

    def list_deployments(
        self, environment: str | None = None, service: str | None = None, state: DeploymentState | None = None
    ) -> list[Deployment]:
        """The documents the filters match, and every progress row (rows carry no index columns: with no filter,
        the one query reads them too)."""
        where = ({"environment": environment} if environment else {}) | ({"state": state.value} if state else {})
        found = list(self._tables.query(TABLE, where=where))
        if where:
            found.extend(self._tables.scan(TABLE, KeyRange(start=PROGRESS, stop=PROGRESS_END)))
        partitions: defaultdict[str, list[Document]] = defaultdict(list)
        for document in found:
            partitions[document.partition].append(document)
        deployments = [
            Partition.of(deployment_id, documents).deployment()
            for deployment_id, documents in partitions.items()
            if any(document.row == ROW for document in documents)
        ]
        if service:
            deployments = [deployment for deployment in deployments if service in deployment.services]
        return sorted(deployments, key=lambda deployment: (deployment.created_at, deployment.id), reverse=True)

    async def page_deployments(self, query: DeploymentQuery) -> DeploymentPage:
        """The page kept since the listing last changed, or read (on a worker thread)."""
        key = (query.environment, query.service, query.state, query.limit, query.start)
        return await self._pages.page(key, lambda: self._read_page(query))

    def _read_page(self, query: DeploymentQuery) -> DeploymentPage:
        """One partition of the index, window by window (``DeploymentQuery.row_ranges``) until ``limit + 1`` rows
        are found: the extra one is where the next page starts."""
        table, partition = (INDEX, EVERY) if query.service is None else (SERVICE_INDEX, query.service)
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

    def read_partition(self, deployment_id: str) -> Partition:
        """A deployment's partition as stored: its document and its services' rows (one query)."""
        return Partition.of(deployment_id, self._tables.query(TABLE, partition=deployment_id))

    def _save(self, deployment: Deployment, stored: Partition) -> Deployment:
        """Write what ``deployment`` changed of ``stored`` (``save_writes``) in one transaction, then its summary;
        the result names the version it was read as, with what it wrote."""
        writes = save_writes(deployment, stored)
        if not writes:
            return deployment
        try:
            etags = self._tables.transact(TABLE, writes)
        except AlreadyExists as error:  # a service's first row, written by update_service meanwhile
            raise ConcurrencyConflict(f"deployment {deployment.id} changed since it was read") from error
        written = [replace(write.document, etag=etag) for write, etag in zip(writes, etags, strict=True)]
        self._index(stored.written(written))
        return replace(deployment, etag=Version.parse(deployment.etag).written(written).token())

    def reindex(self, stored: Iterable[Partition]) -> None:
        """Write the summaries of stored records as a save would (``reindex``), then bump the listing once."""
        for partition in stored:
            write_summaries(self._tables, partition, self.read_partition)
        self._pages.changed()

    def _index(self, stored: Partition) -> None:
        write_summaries(self._tables, stored, self.read_partition)
        self._pages.changed()


def _back_off(attempt: int) -> None:
    """Jittered backoff keeps racing writers from colliding in lockstep."""
    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))


def _summarised(progress: ServiceProgress) -> dict[str, object]:
    """What the listing's summary shows of a service's progress."""
    shown = progress.to_dict()
    return {key: shown[key] for key in SUMMARY_PROGRESS}


def _columns(query: DeploymentQuery) -> dict[str, str]:
    columns = {"environment": query.environment} if query.environment is not None else {}
    return columns | ({"state": query.state.value} if query.state is not None else {})
