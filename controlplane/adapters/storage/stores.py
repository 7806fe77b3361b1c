"""The stored records, one port each, over one set of document tables: what the composition root hands out.

Tables and keys (each adapter module says more):

    Deployments      PartitionKey=deployment id   RowKey="deployment"   index: environment, state, createdAt
                     PartitionKey=deployment id   RowKey="service|<name>"  that service's progress
    DeploymentIndex  PartitionKey="*"             RowKey=inverted time|id  the listing's summaries, newest first
    DeploymentServiceIndex  PartitionKey=service  RowKey=inverted time|id  the same, per service of each
    ListingVersions  PartitionKey=listing         RowKey="version"      bumped by every write a listing shows
    Catalog          PartitionKey=environment     RowKey=service
    Findings         PartitionKey=finding id      RowKey="finding"      index: status
    FindingIndex     PartitionKey=status, and "*" RowKey=firstSeen|id   the listing's findings, oldest first
    LoopState        PartitionKey=loop            RowKey=key            a loop's memory of one service
    Quarantine       PartitionKey=environment     RowKey=service|image  images a rollback took out
    ProcessedEvents  PartitionKey=expiry hour|consumer  RowKey=event id  (older rows: PartitionKey=consumer)
    ServiceClaims    PartitionKey=environment     RowKey=service        the deployment running for it
    EventLog         PartitionKey=traceid         RowKey=time|event id  every envelope emitted
    EventOutbox      PartitionKey=UTC day         RowKey=time|event id  envelopes not yet published (TraceId)
    EventAudit       PartitionKey=UTC day         RowKey=inverted time|id  every envelope, newest first, filterable

Records travel with the etag they were read at; every conditional write names it, so a writer that
lost a race gets ConcurrencyConflict instead of silently overwriting the winner.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.adapters.storage import (
    catalog,
    claims,
    deployment_retention,
    deployment_summaries,
    deployments,
    event_log,
    findings,
    listing_cache,
    loop_states,
    processed_events,
    quarantine,
)
from controlplane.adapters.storage.documents import DocumentTables
from controlplane.ports import (
    Catalog,
    Claims,
    DeploymentRetention,
    Deployments,
    EventLog,
    Findings,
    LoopStates,
    ProcessedEvents,
    Quarantine,
)

TABLES = [
    deployments.TABLE,
    deployment_summaries.INDEX,
    deployment_summaries.SERVICE_INDEX,
    listing_cache.TABLE,
    catalog.TABLE,
    findings.TABLE,
    findings.INDEX,
    loop_states.TABLE,
    quarantine.TABLE,
    processed_events.TABLE,
    claims.TABLE,
    event_log.TABLE,
    event_log.OUTBOX,
    event_log.AUDIT,
]


@dataclass(frozen=True)
class Stores:
    """One port per stored record; a handler takes the few it uses (``ports.store.deployments``, ...)."""

    deployments: Deployments
    deployment_retention: DeploymentRetention
    catalog: Catalog
    findings: Findings
    loop_states: LoopStates
    quarantine: Quarantine
    processed_events: ProcessedEvents
    claims: Claims
    event_log: EventLog

    @classmethod
    def over(cls, tables: DocumentTables) -> Stores:
        """Every record's adapter over ``tables``; nothing is read or written (see :func:`create_tables`)."""
        records = deployments.DocumentDeployments(tables)
        return cls(
            deployments=records,
            deployment_retention=deployment_retention.DocumentDeploymentRetention(tables),
            catalog=catalog.DocumentCatalog(tables),
            findings=findings.DocumentFindings(tables),
            loop_states=loop_states.DocumentLoopStates(tables),
            quarantine=quarantine.DocumentQuarantine(tables),
            processed_events=processed_events.DocumentProcessedEvents(tables),
            claims=claims.DocumentClaims(tables, records),
            event_log=event_log.DocumentEventLog(tables),
        )


def create_tables(tables: DocumentTables) -> None:
    """Make sure every record's table exists; idempotent. Call once before the stores are used."""
    tables.create_tables(TABLES)
