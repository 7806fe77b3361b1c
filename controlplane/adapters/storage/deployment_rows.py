"""One deployment's partition of the Deployments table: its document, and one progress row per service.

    PartitionKey=deployment id  RowKey="deployment"        the record without its services' progress (release,
                                                            transitions, who) and ``serviceNames``, their order
    PartitionKey=deployment id  RowKey="service|<name>"    that service's progress (``ServiceProgress.to_dict``)

Why rows: the services of a wave roll out in parallel, each writing its own progress; a row each, with its own
etag, makes those writes independent of each other and of the deployment's transitions, where one document
made every writer race for one etag. The rows share the document's partition, so one query reads the whole
record and one transaction (``DocumentTables.transact``) writes the document and rows together.

The document keeps no progress, so no write of the document can overwrite a row written meanwhile, and no copy
can disagree with a row. Deployments stored before the rows kept every service's progress in the document's
``services``: a service with no row reads it from there, and the first write of such a document moves every
service into its row in the same transaction (its rows written by then stay: a row always wins).

A deployment read from here carries a composite etag (``Version``): for its document and for each service, the
etag read and a digest of the value read, so a save writes only the parts the caller changed (their digest
differs) and knows whether a part changed under it (its etag differs). Each part also counts its writes
(``sequence``, 0 when created or stored before the count): the listing's summaries compare what they were built
from by these counts (``Partition.sequences``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from controlplane.adapters.storage.documents import Document, Write
from controlplane.domain.deployment import Deployment, ServiceProgress
from controlplane.domain.events import format_time
from controlplane.errors import ConcurrencyConflict, NotFound, PermanentError

ROW = "deployment"
PROGRESS = "service|"  # progress rows' key prefix; every one sorts before PROGRESS_END
PROGRESS_END = "service}"


def progress_row(service: str) -> str:
    return f"{PROGRESS}{service}"


@dataclass(frozen=True)
class Read:
    """One part as read: its etag (None: a service that had no row yet) and the digest of its value."""

    etag: str | None
    digest: str


@dataclass(frozen=True)
class Version:
    """A deployment's parts as read: its document, and each service's progress."""

    document: Read
    services: Mapping[str, Read]

    def token(self) -> str:
        """The ``Deployment.etag`` naming this version; opaque to everything but this module."""
        parts = {"deployment": self.document, **{PROGRESS + name: read for name, read in self.services.items()}}
        return json.dumps({key: [read.etag, read.digest] for key, read in parts.items()}, sort_keys=True)

    def written(self, documents: Iterable[Document]) -> Version:
        """This version after ``documents`` (with their new etags) were written over it."""
        version = self
        for document in documents:
            read = Read(document.etag, digest(document.body))
            if document.row == ROW:
                version = replace(version, document=read)
            else:
                version = replace(version, services={**version.services, document.row.removeprefix(PROGRESS): read})
        return version

    @classmethod
    def parse(cls, token: str | None) -> Version:
        if token is None:
            raise ValueError("a save needs the deployment as it was read (it has no etag)")
        parts = {key: Read(etag, digest) for key, (etag, digest) in json.loads(token).items()}
        document = parts.pop("deployment")
        return cls(document, {key.removeprefix(PROGRESS): read for key, read in parts.items()})


def digest(value: Mapping[str, Any]) -> str:
    """Of a part's value, its write count left out."""
    kept = {key: item for key, item in value.items() if key != "sequence"}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Partition:
    """One deployment's partition as read: its document and its progress rows by service."""

    document: Document
    rows: Mapping[str, Document]

    @classmethod
    def of(cls, deployment_id: str, documents: Iterable[Document]) -> Partition:
        """The partition from its documents (rows of other kinds are ignored); NotFound without a document."""
        document, rows = None, {}
        for found in documents:
            if found.row == ROW:
                document = found
            elif found.row.startswith(PROGRESS):
                rows[found.row.removeprefix(PROGRESS)] = found
        if document is None:
            raise NotFound(f"no deployment {deployment_id}")
        return cls(document, rows)

    @property
    def legacy(self) -> bool:
        """Stored before progress rows: the document holds every service's progress."""
        return "serviceNames" not in self.document.body

    @property
    def service_names(self) -> list[str]:
        body = self.document.body
        return list(body["services"]) if self.legacy else list(body["serviceNames"])

    def progress(self, service: str) -> ServiceProgress:
        """The service's progress: its row, else (stored before rows) the document's; NotFound if the deployment
        has no such service."""
        row = self.rows.get(service)
        if row is not None:
            return ServiceProgress.from_dict(row.body)
        if self.legacy and service in self.document.body["services"]:
            return ServiceProgress.from_dict(self.document.body["services"][service])
        if service in self.service_names:  # transact writes a document and its rows together: never so
            raise PermanentError(f"deployment {self.document.partition}: the progress row of {service!r} is missing")
        raise NotFound(f"deployment {self.document.partition} has no service {service!r}")

    def deployment(self) -> Deployment:
        """The record the partition holds, with the composite etag (``Version``) of what was read."""
        body = {key: value for key, value in self.document.body.items() if key != "serviceNames"}
        assembled = replace(
            Deployment.from_dict({**body, "services": {}}),
            services={service: self.progress(service) for service in self.service_names},
        )
        services = {
            name: Read(self.rows[name].etag if name in self.rows else None, digest(progress.to_dict()))
            for name, progress in assembled.services.items()
        }
        document = Read(self.document.etag, digest(document_of(assembled).body))
        return replace(assembled, etag=Version(document, services).token())

    def sequences(self) -> dict[str, int]:
        """How many times each part was written (by its row key; a part missing: never)."""
        parts = [self.document, *self.rows.values()]
        return {part.row: sequence_of(part) for part in parts}

    def written(self, documents: Iterable[Document]) -> Partition:
        """The partition after ``documents`` (with their new etags) were written."""
        partition = self
        for document in documents:
            if document.row == ROW:
                partition = replace(partition, document=document)
            else:
                service = document.row.removeprefix(PROGRESS)
                partition = replace(partition, rows={**partition.rows, service: document})
        return partition


def save_writes(deployment: Deployment, stored: Partition) -> list[Write]:
    """What saving ``deployment`` over ``stored`` writes: each part the caller changed since it was read (its
    digest differs from the one read), on the condition that the part is still the version read. A part the caller
    did not change is not written, so a write of it meanwhile (another service's progress, a transition) is neither
    overwritten nor a conflict.

        the caller          the stored part since the read     writes
        did not change it   any                                nothing
        changed it          unchanged (same etag)              replace, if-match the etag read
        changed it          changed                            ConcurrencyConflict
        (stored before rows: the document is written, and each service without a row gets one, with its progress)
    """
    read = Version.parse(deployment.etag)
    writes = []
    if stored.legacy or digest(document_of(deployment).body) != read.document.digest:
        if stored.document.etag != read.document.etag:
            raise ConcurrencyConflict(f"deployment {deployment.id} changed since it was read")
        writes.append(Write("replace", document_of(deployment, read.document.etag, sequence_of(stored.document) + 1)))
    for service, progress in deployment.services.items():
        row, was = stored.rows.get(service), read.services[service]
        if row is None:  # stored before rows: it moves out of the document now (a new row meanwhile: a conflict)
            writes.append(Write("insert", row_of(deployment.id, service, progress, sequence=1)))
        elif digest(progress.to_dict()) != was.digest:
            if row.etag != was.etag:
                raise ConcurrencyConflict(f"deployment {deployment.id}: {service}'s progress changed since it was read")
            writes.append(Write("replace", row_of(deployment.id, service, progress, row.etag, sequence_of(row) + 1)))
    return writes


def document_of(deployment: Deployment, etag: str | None = None, sequence: int = 0) -> Document:
    """The deployment's document: everything but its services' progress, which their rows hold; its ``sequence``th
    write."""
    body = {key: value for key, value in deployment.to_dict().items() if key != "services"}
    return Document(
        deployment.id,
        ROW,
        {**body, "serviceNames": list(deployment.services), "sequence": sequence},
        index={
            "environment": deployment.environment,
            "state": deployment.state.value,
            "createdAt": format_time(deployment.created_at),
        },
        etag=etag,
    )


def row_of(
    deployment_id: str, service: str, progress: ServiceProgress, etag: str | None = None, sequence: int = 0
) -> Document:
    """A service's progress row, its ``sequence``th write."""
    return Document(deployment_id, progress_row(service), {**progress.to_dict(), "sequence": sequence}, etag=etag)


def sequence_of(part: Document) -> int:
    """How many times the part was written (0: never since created, or stored before the count)."""
    return int(part.body.get("sequence", 0))
