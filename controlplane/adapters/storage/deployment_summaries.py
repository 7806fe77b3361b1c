"""The listing's summaries of deployments (``domain.deployment_summary``) and where they are kept.

    DeploymentIndex         PartitionKey="*"      RowKey=inverted createdAt|id  every deployment's summary; columns
    DeploymentServiceIndex  PartitionKey=service  RowKey=inverted createdAt|id  environment, state, sequences

Every writer of a deployment writes its summaries after its record, concurrently with the others (the services of a
wave each write their progress), so a summary's write is conditional: it carries the write count of each part of the
record it was built from (``Partition.sequences``, in its ``sequences`` column) and replaces, if-match, only a
summary whose every count is at most its own; one whose every count is at least its own stays. Neither (each shows a
write the other lacks): the record is read again, which shows both. The counts in a place only grow, so once the last
writer of a part is done the summary there shows that write, however the writers interleave:

    there              ours               writes
    {d:1}              {d:1, orders:2}    replace (ours shows more)
    {d:2, orders:3}    {d:2, orders:2}    nothing (the one there is newer)
    {d:2}              {d:1, orders:2}    nothing yet: read again, {d:2, orders:2}, replace

Why not write unconditionally and read the record again to catch a newer one (as before progress had rows)? With
every service of a wave writing at once, each writer kept finding the record overtaken and wrote all its summaries
again: hundreds of writes per progress write at 50 services, where this costs a read and at most a write per place.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from controlplane.adapters.storage.deployment_rows import Partition
from controlplane.adapters.storage.documents import MAX_UPDATE_ATTEMPTS, Document, DocumentTables, IndexValue
from controlplane.domain.deployment import Deployment
from controlplane.domain.deployment_summary import DeploymentPosition, index_row, summary_of
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound

INDEX = "DeploymentIndex"
SERVICE_INDEX = "DeploymentServiceIndex"
EVERY = "*"


def places(deployment: Deployment) -> list[tuple[str, str]]:
    """The (table, partition) of each of the deployment's summaries."""
    return [(INDEX, EVERY), *((SERVICE_INDEX, service) for service in deployment.services)]


@dataclass(frozen=True)
class Summary:
    """The summary of one read of a deployment, and the write counts of the parts it shows (``sequences``)."""

    deployment_id: str
    row: str
    body: dict[str, Any]
    columns: dict[str, IndexValue]
    sequences: dict[str, int]
    places: list[tuple[str, str]]

    @classmethod
    def of(cls, stored: Partition) -> Summary:
        deployment = stored.deployment()
        sequences = stored.sequences()
        columns: dict[str, IndexValue] = {"environment": deployment.environment, "state": deployment.state.value}
        columns["sequences"] = json.dumps(sequences, sort_keys=True)
        row = index_row(DeploymentPosition.of(deployment))
        return cls(deployment.id, row, summary_of(deployment), columns, sequences, places(deployment))

    def document(self, partition: str) -> Document:
        return Document(partition, self.row, self.body, self.columns)


def write_summaries(tables: DocumentTables, stored: Partition, read: Callable[[str], Partition]) -> None:
    """Write the summary of ``stored`` in each of its places unless the one there is newer; ``read`` reads the
    record again (by id) when the one there shows a write this one lacks."""
    summary = Summary.of(stored)
    for table, partition in summary.places:
        summary = _summarise(tables, table, partition, summary, read)


def _summarise(
    tables: DocumentTables, table: str, partition: str, summary: Summary, read: Callable[[str], Partition]
) -> Summary:
    """Write ``summary`` in one place (see the module's docstring); return the summary it wrote."""
    for _ in range(MAX_UPDATE_ATTEMPTS):
        written = summary.document(partition)
        try:
            there = tables.get(table, partition, written.row)
        except NotFound:
            try:
                tables.insert(table, written)
                return summary
            except AlreadyExists:
                continue
        theirs = json.loads(str(there.index.get("sequences", "{}")))  # none: written before the counts
        if _covers(theirs, summary.sequences):
            return summary
        if not _covers(summary.sequences, theirs):
            summary = Summary.of(read(summary.deployment_id))
            continue
        try:
            tables.replace(table, replace(written, etag=there.etag))
            return summary
        except ConcurrencyConflict:
            continue
    # Still contended: other writers keep writing summaries of newer versions (the last one's lands). Not a
    # conflict: the record's write stands (a caller retrying it would apply its change twice).
    return summary


def _covers(counts: dict[str, int], other: dict[str, int]) -> bool:
    """Every part counted in ``other`` is written at least as often in ``counts``."""
    return all(counts.get(part, 0) >= count for part, count in other.items())
