"""Deployments over document tables: PartitionKey=deployment id, RowKey="deployment", indexed by
environment, state and createdAt. Every write names the etag it read, so a lost race is a conflict.

The releases of finished deployments are kept in memory (``RELEASES_KEPT``, least recently used dropped): the
control loops read the release of every promoted service on every tick, and a finished deployment's release
can never change, so after the first tick that read costs no table operation."""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from controlplane.adapters.storage.documents import MAX_UPDATE_ATTEMPTS, Document, DocumentTables
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.events import format_time
from controlplane.domain.manifest import Release
from controlplane.errors import ConcurrencyConflict

TABLE = "Deployments"
ROW = "deployment"
RELEASES_KEPT = 10_000  # a few KB each: tens of MB at most, for 10,000 services' promoted releases


class DocumentDeployments:
    """The Deployments port over any DocumentTables (its table created by ``create_tables``)."""

    def __init__(self, tables: DocumentTables) -> None:
        self._tables = tables
        self._releases: OrderedDict[str, Release] = OrderedDict()
        self._lock = threading.Lock()

    def create_deployment(self, deployment: Deployment) -> Deployment:
        etag = self._tables.insert(TABLE, _document(deployment))
        return replace(deployment, etag=etag)

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
        etag = self._tables.replace(TABLE, _document(deployment))
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
