"""Service claims over document tables: PartitionKey=environment, RowKey=service, the body naming the
deployment running for it and when it claimed. A claim held by a finished deployment is taken over, and so
is one whose deployment is not stored once ``UNSTORED_GRACE`` has passed: a deployment is stored right after
its services are claimed (services.deployments.accept), so a younger claim is one being accepted now, and an
older one was left by an accept that crashed or failed between the two writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from controlplane.adapters.storage.documents import MAX_UPDATE_ATTEMPTS, Document, DocumentTables
from controlplane.domain.events import format_time, parse_time
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound
from controlplane.ports import Deployments

TABLE = "ServiceClaims"
UNSTORED_GRACE = timedelta(seconds=60)  # far above the milliseconds between claiming and storing


class DocumentClaims:
    """The Claims port over any DocumentTables; ``deployments`` says whether a holder has finished."""

    def __init__(self, tables: DocumentTables, deployments: Deployments) -> None:
        self._tables = tables
        self._deployments = deployments

    def claim_services(
        self, environment: str, services: Sequence[str], deployment_id: str, now: datetime
    ) -> str | None:
        claimed: list[str] = []
        for service in sorted(set(services)):
            holder = self._claim(environment, service, deployment_id, now)
            if holder is not None:
                self.release_services(environment, claimed, deployment_id)
                return holder
            claimed.append(service)
        return None

    def _claim(self, environment: str, service: str, deployment_id: str, now: datetime) -> str | None:
        mine = Document(environment, service, {"deploymentId": deployment_id, "claimedAt": format_time(now)})
        for _ in range(MAX_UPDATE_ATTEMPTS):
            try:
                self._tables.insert(TABLE, mine)
                return None
            except AlreadyExists:
                pass
            try:
                held = self._tables.get(TABLE, environment, service)
            except NotFound:
                continue
            holder: str = held.body["deploymentId"]
            if holder == deployment_id:
                return None
            if not self._finished(holder, held.body.get("claimedAt"), now):
                return holder
            try:
                self._tables.replace(TABLE, replace(mine, etag=held.etag))
                return None
            except (ConcurrencyConflict, NotFound):
                continue
        raise ConcurrencyConflict(f"{environment}/{service}: claim contended {MAX_UPDATE_ATTEMPTS} times")

    def _finished(self, deployment_id: str, claimed_at: str | None, now: datetime) -> bool:
        try:
            return self._deployments.get_deployment(deployment_id).is_terminal
        except NotFound:
            return claimed_at is None or now - parse_time(claimed_at) > UNSTORED_GRACE

    def holder(self, environment: str, service: str, now: datetime) -> str | None:
        try:
            held = self._tables.get(TABLE, environment, service)
        except NotFound:
            return None
        holder: str = held.body["deploymentId"]
        return None if self._finished(holder, held.body.get("claimedAt"), now) else holder

    def in_flight(self, now: datetime, environment: str | None = None) -> dict[str, str]:
        finished: dict[str, bool] = {}  # a deployment holds all its services: read it once
        holders = {}
        for held in self._tables.query(TABLE, partition=environment):
            holder: str = held.body["deploymentId"]
            if holder not in finished:
                finished[holder] = self._finished(holder, held.body.get("claimedAt"), now)
            if not finished[holder]:
                holders[f"{held.partition}/{held.row}"] = holder
        return holders

    def release_services(self, environment: str, services: Sequence[str], deployment_id: str) -> None:
        for service in services:
            try:
                held = self._tables.get(TABLE, environment, service)
            except NotFound:
                continue
            if held.body["deploymentId"] == deployment_id:
                try:
                    self._tables.delete(TABLE, environment, service, etag=held.etag)
                except ConcurrencyConflict:
                    continue  # taken over meanwhile: not ours to release
