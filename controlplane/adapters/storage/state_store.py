"""The StateStore port, written once over document tables (Azure Tables in production, memory in tests).

Tables and keys:

    Deployments      PartitionKey=deployment id   RowKey="deployment"   index: environment, state, createdAt
    Catalog          PartitionKey=environment     RowKey=service
    Findings         PartitionKey=finding id      RowKey="finding"      index: status
    LoopState        PartitionKey=loop            RowKey=key            a loop's memory of one service
    Quarantine       PartitionKey=environment     RowKey=service|image  images a rollback took out
    ProcessedEvents  PartitionKey=consumer        RowKey=event id       index: expiresAt
    ServiceClaims    PartitionKey=environment     RowKey=service        the deployment running for it
    IdempotencyKeys  PartitionKey=key             RowKey="request"      the deployment a key started
    EventLog         PartitionKey=traceid         RowKey=time|event id  every envelope emitted

Records travel with the etag they were read at; every conditional write names it, so a writer that
lost a race gets ConcurrencyConflict instead of silently overwriting the winner.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.deployment import Deployment
from controlplane.domain.events import Envelope, format_time, parse_time
from controlplane.domain.findings import DriftFinding, FindingStatus
from controlplane.domain.loops import LoopRecord, QuarantinedImage
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound

DEPLOYMENTS = "Deployments"
CATALOG = "Catalog"
FINDINGS = "Findings"
LOOPS = "LoopState"
QUARANTINE = "Quarantine"
PROCESSED = "ProcessedEvents"
CLAIMS = "ServiceClaims"
REQUESTS = "IdempotencyKeys"
EVENTS = "EventLog"
TABLES = [DEPLOYMENTS, CATALOG, FINDINGS, LOOPS, QUARANTINE, PROCESSED, CLAIMS, REQUESTS, EVENTS]

MAX_UPDATE_ATTEMPTS = 50


class DocumentStateStore:
    """StateStore over any DocumentTables; call :meth:`create_tables` once before use."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables

    def create_tables(self) -> None:
        self._tables.create_tables(TABLES)

    # Deployments

    def create_deployment(self, deployment: Deployment) -> Deployment:
        etag = self._tables.insert(DEPLOYMENTS, _deployment_document(deployment))
        return replace(deployment, etag=etag)

    def get_deployment(self, deployment_id: str) -> Deployment:
        document = self._tables.get(DEPLOYMENTS, deployment_id, "deployment")
        return Deployment.from_dict(document.body, etag=document.etag)

    def save_deployment(self, deployment: Deployment) -> Deployment:
        etag = self._tables.replace(DEPLOYMENTS, _deployment_document(deployment))
        return replace(deployment, etag=etag)

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
        self._tables.delete(DEPLOYMENTS, deployment_id, "deployment")

    def list_deployments(self, environment: str | None = None, service: str | None = None) -> list[Deployment]:
        where = {"environment": environment} if environment else None
        deployments = [
            Deployment.from_dict(document.body, etag=document.etag)
            for document in self._tables.query(DEPLOYMENTS, where=where)
        ]
        if service:
            deployments = [deployment for deployment in deployments if service in deployment.services]
        return sorted(deployments, key=lambda deployment: (deployment.created_at, deployment.id), reverse=True)

    # Service catalog inventory

    def put_catalog_entry(self, entry: CatalogEntry) -> CatalogEntry:
        document = Document(entry.environment, entry.service, entry.to_dict())
        return replace(entry, etag=self._tables.upsert(CATALOG, document))

    def get_catalog_entry(self, environment: str, service: str) -> CatalogEntry:
        document = self._tables.get(CATALOG, environment, service)
        return CatalogEntry.from_dict(document.body, etag=document.etag)

    def list_catalog(self, environment: str | None = None) -> list[CatalogEntry]:
        entries = [
            CatalogEntry.from_dict(document.body, etag=document.etag)
            for document in self._tables.query(CATALOG, partition=environment)
        ]
        return sorted(entries, key=lambda entry: (entry.environment, entry.service))

    # Drift findings

    def create_finding(self, finding: DriftFinding) -> DriftFinding:
        return replace(finding, etag=self._tables.insert(FINDINGS, _finding_document(finding)))

    def save_finding(self, finding: DriftFinding) -> DriftFinding:
        return replace(finding, etag=self._tables.replace(FINDINGS, _finding_document(finding)))

    def get_finding(self, finding_id: str) -> DriftFinding:
        document = self._tables.get(FINDINGS, finding_id, "finding")
        return DriftFinding.from_dict(document.body, etag=document.etag)

    def list_findings(self, status: FindingStatus | None = None) -> list[DriftFinding]:
        where = {"status": status.value} if status else None
        findings = [
            DriftFinding.from_dict(document.body, etag=document.etag)
            for document in self._tables.query(FINDINGS, where=where)
        ]
        return sorted(findings, key=lambda finding: (finding.first_seen, finding.id))

    # Loop state and quarantine

    def get_loop_state(self, loop: str, key: str) -> LoopRecord | None:
        try:
            document = self._tables.get(LOOPS, loop, key)
        except NotFound:
            return None
        return LoopRecord(loop, key, document.body, etag=document.etag)

    def put_loop_state(self, record: LoopRecord) -> LoopRecord:
        document = Document(record.loop, record.key, dict(record.body), etag=record.etag)
        if record.etag is None:
            try:
                etag = self._tables.insert(LOOPS, document)
            except AlreadyExists as error:
                raise ConcurrencyConflict(f"{record.loop}/{record.key} was stored meanwhile") from error
        else:
            try:
                etag = self._tables.replace(LOOPS, document)
            except NotFound as error:
                raise ConcurrencyConflict(f"{record.loop}/{record.key} was removed meanwhile") from error
        return replace(record, etag=etag)

    def list_loop_states(self, loop: str) -> list[LoopRecord]:
        records = [LoopRecord(loop, d.row, d.body, etag=d.etag) for d in self._tables.query(LOOPS, partition=loop)]
        return sorted(records, key=lambda record: record.key)

    def quarantine(self, image: QuarantinedImage) -> None:
        self._tables.upsert(QUARANTINE, Document(image.environment, _quarantine_row(image.key), image.to_dict()))

    def lift_quarantine(self, environment: str, service: str, image: str) -> bool:
        row = _quarantine_row((environment, service, image))
        try:
            self._tables.get(QUARANTINE, environment, row)
        except NotFound:
            return False
        self._tables.delete(QUARANTINE, environment, row)
        return True

    def quarantined(self, environment: str | None = None) -> list[QuarantinedImage]:
        images = [QuarantinedImage.from_dict(d.body) for d in self._tables.query(QUARANTINE, partition=environment)]
        return sorted(images, key=lambda image: image.key)

    # One running deployment per service

    def claim_services(self, environment: str, services: Sequence[str], deployment_id: str) -> str | None:
        claimed: list[str] = []
        for service in sorted(set(services)):
            holder = self._claim(environment, service, deployment_id)
            if holder is not None:
                self.release_services(environment, claimed, deployment_id)
                return holder
            claimed.append(service)
        return None

    def _claim(self, environment: str, service: str, deployment_id: str) -> str | None:
        mine = Document(environment, service, {"deploymentId": deployment_id})
        for _ in range(MAX_UPDATE_ATTEMPTS):
            try:
                self._tables.insert(CLAIMS, mine)
                return None
            except AlreadyExists:
                pass
            try:
                held = self._tables.get(CLAIMS, environment, service)
            except NotFound:
                continue
            holder = held.body["deploymentId"]
            if holder == deployment_id:
                return None
            if not self._finished(holder):
                return holder
            try:
                self._tables.replace(CLAIMS, replace(mine, etag=held.etag))
                return None
            except (ConcurrencyConflict, NotFound):
                continue
        raise ConcurrencyConflict(f"{environment}/{service}: claim contended {MAX_UPDATE_ATTEMPTS} times")

    def _finished(self, deployment_id: str) -> bool:
        try:
            return self.get_deployment(deployment_id).is_terminal
        except NotFound:
            return True

    def release_services(self, environment: str, services: Sequence[str], deployment_id: str) -> None:
        for service in services:
            try:
                held = self._tables.get(CLAIMS, environment, service)
            except NotFound:
                continue
            if held.body["deploymentId"] == deployment_id:
                try:
                    self._tables.delete(CLAIMS, environment, service, etag=held.etag)
                except ConcurrencyConflict:
                    continue  # taken over meanwhile: not ours to release

    # Idempotency keys

    def remember_request(self, idempotency_key: str, deployment_id: str) -> str:
        try:
            self._tables.insert(REQUESTS, Document(idempotency_key, "request", {"deploymentId": deployment_id}))
            return deployment_id
        except AlreadyExists:
            return self._tables.get(REQUESTS, idempotency_key, "request").body["deploymentId"]

    # Event log

    def append_events(self, events: Sequence[Envelope]) -> None:
        for envelope in events:
            row = f"{format_time(envelope.time)}|{envelope.id}"
            try:
                self._tables.insert(EVENTS, Document(envelope.traceid, row, envelope.to_dict()))
            except AlreadyExists:
                continue  # a retried publish: logged once

    def events_for_trace(self, traceid: str) -> list[Envelope]:
        documents = sorted(self._tables.query(EVENTS, partition=traceid), key=lambda document: document.row)
        return [Envelope.from_dict(document.body) for document in documents]

    # Processed event ids (idempotent consumers)

    def mark_processed(self, consumer: str, event_id: str, now: datetime, ttl: timedelta) -> bool:
        expires = format_time(now + ttl)
        fresh = Document(consumer, event_id, {"expiresAt": expires}, index={"expiresAt": expires})
        try:
            self._tables.insert(PROCESSED, fresh)
            return True
        except AlreadyExists:
            pass
        try:
            stored = self._tables.get(PROCESSED, consumer, event_id)
        except NotFound:
            return self.mark_processed(consumer, event_id, now, ttl)  # purged between our two calls
        if parse_time(stored.body["expiresAt"]) > now:
            return False
        try:
            self._tables.replace(PROCESSED, replace(fresh, etag=stored.etag))
        except (ConcurrencyConflict, NotFound):
            return False  # a concurrent caller renewed it first
        return True

    def forget_processed(self, consumer: str, event_id: str) -> None:
        self._tables.delete(PROCESSED, consumer, event_id)

    def purge_processed(self, now: datetime) -> int:
        removed = 0
        for document in self._tables.query(PROCESSED):
            if parse_time(document.body["expiresAt"]) <= now:
                try:
                    self._tables.delete(PROCESSED, document.partition, document.row, etag=document.etag)
                except ConcurrencyConflict:
                    continue  # renewed meanwhile: keep it
                removed += 1
        return removed


def _deployment_document(deployment: Deployment) -> Document:
    return Document(
        deployment.id,
        "deployment",
        deployment.to_dict(),
        index={
            "environment": deployment.environment,
            "state": deployment.state.value,
            "createdAt": format_time(deployment.created_at),
        },
        etag=deployment.etag,
    )


def _finding_document(finding: DriftFinding) -> Document:
    return Document(finding.id, "finding", finding.to_dict(), index={"status": finding.status.value}, etag=finding.etag)


def _quarantine_row(key: tuple[str, str, str]) -> str:
    # Table keys may not contain "/"; image references always do (and never "%", so this is one-to-one).
    _, service, image = key
    return f"{service}|{image}".replace("/", "%2F")
