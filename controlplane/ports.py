"""The ports: what the core needs from the outside world, one Protocol each.

Each method's docstring is its contract. Adapters (``controlplane/adapters``) implement these against
Azure, the embedded local host, or in memory for tests; every implementation of a port passes the same
contract tests. Adapters raise only ``controlplane.errors`` types.

Stored state has one port per record (Deployments and their DeploymentRetention, Catalog, Findings, LoopStates,
Quarantine, Claims, EventLog, ProcessedEvents): a handler names the few it reads or writes. Writes use
optimistic concurrency: a record travels with the etag it was read at, and no update is ever lost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from controlplane.domain.analysis import Measurement, MetricQuery
from controlplane.domain.audit import EventPage, EventQuery
from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.deployment import Deployment, DeploymentState, ServiceProgress
from controlplane.domain.deployment_summary import DeploymentPage, DeploymentQuery
from controlplane.domain.events import Envelope
from controlplane.domain.findings import DriftFinding, FindingStatus
from controlplane.domain.health import HealthReport
from controlplane.domain.hooks import HookCall, HookOutcome
from controlplane.domain.listing_pages import CatalogPage, FindingPage, FindingPosition, ServicePosition
from controlplane.domain.loops import LoopRecord, QuarantinedImage
from controlplane.domain.manifest import Release
from controlplane.domain.notifications import WebhookAnswer
from controlplane.domain.paging import DEFAULT_LIMIT
from controlplane.domain.runtime import (
    EnvironmentOutputs,
    LiveWorkload,
    MetricKind,
    MetricReading,
    RevisionSpec,
)
from controlplane.domain.shards import Shard


class Deployments(Protocol):
    """The deployment records. Writes use optimistic concurrency; no update is ever lost. Each service's progress
    is a part of its own: writing it (``update_service``) races only with writes of that service's progress."""

    def create_deployment(self, deployment: Deployment) -> Deployment:
        """Insert a new deployment and return it with its etag; AlreadyExists if the id is taken."""

    def get_deployment(self, deployment_id: str) -> Deployment:
        """The stored deployment with its etag; NotFound if there is none."""

    def get_release(self, deployment_id: str) -> Release:
        """The release a deployment deploys; NotFound if there is none. A finished deployment's release never
        changes (and retention never deletes one the catalog names, see ``DeploymentRetention``), so an adapter may
        read it once and keep it."""

    def save_deployment(self, deployment: Deployment) -> Deployment:
        """Write what the object changed of the version it was read as; ConcurrencyConflict if a part it changed
        (the record's own fields, a service's progress) changed since. Parts it did not change keep what others
        wrote meanwhile."""

    def update_deployment(self, deployment_id: str, change: Callable[[Deployment], Deployment]) -> Deployment:
        """Read, apply ``change``, write; on a lost race re-read and re-apply. ``change`` must be pure. A change
        that leaves the services' progress alone never races with ``update_service``."""

    def update_service(
        self, deployment_id: str, service: str, change: Callable[[ServiceProgress], ServiceProgress]
    ) -> ServiceProgress:
        """Read one service's progress, apply ``change``, write it alone; on a lost race (a write of the same
        service's progress) re-read and re-apply. Writes of other services and transitions never make it retry,
        nor it them. ``change`` must be pure; a change that changes nothing writes nothing. Returns the progress
        now stored; NotFound if there is no such deployment or it has no such service."""

    def delete_deployment(self, deployment_id: str) -> None:
        """Remove a deployment that never started (a refused request); absent is not an error."""

    def list_deployments(
        self, environment: str | None = None, service: str | None = None, state: DeploymentState | None = None
    ) -> list[Deployment]:
        """Deployments matching the filters, newest first (by creation time, then id)."""

    async def page_deployments(self, query: DeploymentQuery) -> DeploymentPage:
        """Summaries (``domain.deployment_summary``) of the deployments ``query`` matches, newest first, at most
        ``query.limit`` from ``query.start`` on, and where the next page starts (None when no more match). Reads
        about one page of an index, however many deployments are stored. Awaited (the listing's route is async,
        so concurrent requests share storage reads: ``adapters.storage.listing_cache``); blocking reads run on
        worker threads, never on the event loop."""


class DeploymentRetention(Protocol):
    """Deleting finished deployments past their retention (the records of ``Deployments`` and their index)."""

    def purge_deployments(self, before: datetime, keep: Collection[str], limit: int) -> int:
        """Delete at most ``limit`` terminal deployments created and finished before ``before``, each with all it
        stores (its record, whatever else is kept under its id, its listing summaries); never one named in
        ``keep``, nor one of the two newest Completed deployments of any of its services (the service's current
        release and what a rollback of it deploys again). Return how many were deleted (fewer than ``limit``:
        none is left to delete)."""


class Catalog(Protocol):
    """The service catalog inventory: what each service of an environment last promoted."""

    def put_catalog_entry(self, entry: CatalogEntry) -> CatalogEntry:
        """Insert or replace the inventory entry of (environment, service); last writer wins."""

    def get_catalog_entry(self, environment: str, service: str) -> CatalogEntry:
        """The inventory entry of one service; NotFound if the service was never deployed there."""

    def list_catalog(self, environment: str | None = None) -> list[CatalogEntry]:
        """Inventory entries, ordered by environment then service."""

    def list_shard(self, shard: Shard) -> list[CatalogEntry]:
        """The entries of one shard (one key range), ordered by service."""

    def page_catalog(
        self, environment: str | None = None, limit: int = DEFAULT_LIMIT, start: ServicePosition | None = None
    ) -> CatalogPage:
        """At most ``limit`` entries (of one environment, or all) by environment then service, from ``start`` on,
        and where the next page starts (None when there is no more); reads about one page."""


class Findings(Protocol):
    """The drift findings, versioned: a stale write is refused."""

    def create_finding(self, finding: DriftFinding) -> DriftFinding:
        """Insert a new drift finding; AlreadyExists if its id is taken."""

    def save_finding(self, finding: DriftFinding) -> DriftFinding:
        """Replace the version the finding was read as; ConcurrencyConflict if it changed since."""

    def get_finding(self, finding_id: str) -> DriftFinding:
        """One finding with its etag; NotFound if there is none."""

    def list_findings(self, status: FindingStatus | None = None) -> list[DriftFinding]:
        """Findings with the given status (all when None), oldest first."""

    def page_findings(
        self, status: FindingStatus | None = None, limit: int = DEFAULT_LIMIT, start: FindingPosition | None = None
    ) -> FindingPage:
        """At most ``limit`` findings with the given status (all when None), oldest first, from ``start`` on, and
        where the next page starts (None when there is no more); reads about one page, however many are stored."""


class LoopStates(Protocol):
    """What the control loops remember between runs: one versioned record per (loop, key)."""

    def get_loop_state(self, loop: str, key: str) -> LoopRecord | None:
        """The record ``loop`` stored under ``key`` with its etag, or None if there is none."""

    def put_loop_state(self, record: LoopRecord) -> LoopRecord:
        """Store a record: insert when its etag is None, else replace that version. ConcurrencyConflict
        if another writer got there first (inserted meanwhile, or changed it since it was read)."""

    def put_loop_states(self, records: Sequence[LoopRecord]) -> list[LoopRecord | None]:
        """Store each record as ``put_loop_state`` does (a loop's hundred at a time in one transaction where none
        conflicts): in order, each stored record with its new etag, or None where another writer got there first.
        Any other failure raises; what was written before it stays written."""

    def list_loop_states(self, loop: str, shard: Shard | None = None) -> list[LoopRecord]:
        """Every record of ``loop`` (of one shard's services: one key range), ordered by key."""


class Quarantine(Protocol):
    """Images a rollback took out of a service: the drift loop never deploys them again by itself."""

    def quarantine(self, image: QuarantinedImage) -> None:
        """Quarantine an image of a service (a rollback took it out); repeating it is harmless."""

    def lift_quarantine(self, environment: str, service: str, image: str) -> bool:
        """Take an image out of quarantine (a deployment of it completed); True if it was quarantined."""

    def quarantined(self, environment: str | None = None) -> list[QuarantinedImage]:
        """Quarantined images (of one environment, or all), ordered by environment, service, image."""


class Claims(Protocol):
    """Which deployment runs for each service of an environment: at most one unfinished at a time."""

    def claim_services(
        self, environment: str, services: Sequence[str], deployment_id: str, now: datetime
    ) -> str | None:
        """Make ``deployment_id`` the one deployment running for each service, all or none; idempotent for
        its holder. Returns None on success, or the id of the unfinished deployment that holds one of them
        (nothing claimed). A holder not stored counts as unfinished for a grace period after its claim."""

    def release_services(self, environment: str, services: Sequence[str], deployment_id: str) -> None:
        """Give back the services ``deployment_id`` holds; claims of other deployments are left alone."""

    def holder(self, environment: str, service: str, now: datetime) -> str | None:
        """The unfinished deployment holding ``service``, or None (the loops' in-flight check): a point read of
        the service's claim, and of its holder's deployment when there is a claim. Counts a holder as
        ``claim_services`` does."""

    def in_flight(self, now: datetime, environment: str | None = None) -> dict[str, str]:
        """``holder`` of every claimed service (of one environment) at once, by ``environment/service``: one query
        of the claims (only services being deployed have one) and a point read per holding deployment."""


class EventLog(Protocol):
    """Every envelope emitted, kept per trace: the replayable record of a flow, and the outbox of the bus.

    An appended event is pending publish until ``mark_published``; the journal publishes pending events
    in time order per trace, so a bus outage delays events but never loses or reorders them.
    """

    def append_events(self, events: Sequence[Envelope]) -> None:
        """Keep events in the event log, pending publish; an id already logged is not stored (nor marked) again."""

    def events_for_trace(self, traceid: str, limit: int | None = None) -> list[Envelope]:
        """The logged events of one trace, in time order; with ``limit``, the first ``limit`` of them (read no
        further)."""

    def pending_events(self, limit: int, traceid: str | None = None) -> list[Envelope]:
        """At most ``limit`` events not yet published (of one trace, or all), by trace then time order."""

    def mark_published(self, events: Sequence[Envelope]) -> None:
        """Mark logged events published: they are no longer pending; marking twice does nothing."""

    def query_events(self, query: EventQuery) -> EventPage:
        """The logged events ``query`` matches, newest first, at most ``query.limit`` from ``query.start`` on,
        and where the next page starts (None when no more match). Reads only the days of the range."""

    def purge_events(self, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` logged events of the UTC days before ``before``'s, never one still pending
        publish; return how many were deleted (fewer than ``limit``: none of those days is left to delete)."""


class ProcessedEvents(Protocol):
    """The event ids idempotent consumers handled, each kept for a ttl: the consumer's duplicate window, at least as
    long as the bus may deliver the event again after it was handled."""

    def mark_processed(self, consumer: str, event_id: str, sent: datetime, now: datetime, ttl: timedelta) -> bool:
        """Record that ``consumer`` handled ``event_id`` (sent at ``sent``: the event's own time, the same on every
        delivery): True the first time, False for a duplicate still within its ``ttl``. Exactly one of several
        concurrent callers gets True."""

    def forget_processed(self, consumer: str, event_id: str, sent: datetime, ttl: timedelta) -> None:
        """Forget that ``consumer`` handled ``event_id`` (marked with ``sent`` and ``ttl``: the handling failed, a
        redelivery must redo it); forgetting an unknown id does nothing."""

    def purge_processed(self, now: datetime, limit: int) -> int:
        """Forget at most ``limit`` records whose ttl has passed; return how many were removed (fewer than
        ``limit``: none is left to remove). A record renewed meanwhile is kept."""


class EventBus(Protocol):
    """Publishes event envelopes to every interested consumer."""

    def publish(self, events: Sequence[Envelope]) -> None:
        """Publish in order, at least once; a re-published id is dropped as a duplicate downstream."""


class Compute(Protocol):
    """Runs service revisions and routes traffic between them (Container Apps, AKS, local processes)."""

    def deploy_revision(self, spec: RevisionSpec) -> None:
        """Start the revision with its replicas and no traffic; idempotent for the same spec."""

    def set_traffic(self, environment: str, service: str, weights: dict[str, int]) -> None:
        """Route traffic by revision weights summing to 100; revisions not named get none."""

    def set_preview(self, environment: str, service: str, revision: str | None) -> None:
        """Expose ``revision`` on the service's preview endpoint with no production traffic (None: none)."""

    def scale(self, environment: str, service: str, revision: str, replicas: int) -> None:
        """Set the replica count of a revision (0 stops it but keeps it restorable)."""

    def remove_revision(self, environment: str, service: str, revision: str) -> None:
        """Stop and delete a revision; does nothing if it is already gone."""

    def inventory(self, environment: str) -> list[LiveWorkload]:
        """Every live workload of the environment, ours (managed) and not."""


class Provisioner(Protocol):
    """Creates or updates an environment's infrastructure from its declared shape."""

    def ensure_environment(self, release: Release) -> EnvironmentOutputs:
        """Plan and apply so the environment matches; idempotent; returns the stack outputs."""

    def outputs(self, environment: str) -> EnvironmentOutputs:
        """The current stack outputs without changing anything; NotFound if never provisioned."""

    def drift(self, environment: str) -> list[str]:
        """The environment's resources whose live state no longer matches its stack (changed or deleted
        outside the provisioner), changing nothing; [] when none; NotFound if never provisioned."""


class Metrics(Protocol):
    """Reads live metrics of a service: ``cpu`` the average percent per replica, ``queue`` the queue length,
    ``rps`` the service's total requests per second (all revisions)."""

    def read(self, environment: str, service: str, metrics: Iterable[MetricKind]) -> list[MetricReading]:
        """One reading per metric asked for; failures become readings with ``value=None`` and an error."""


class AnalysisProvider(Protocol):
    """Measures one metric of one revision (``MetricQuery``) over its window.

    Never raises: no traffic, no data, an unreachable or refusing source, or an answer it cannot read is a
    ``Measurement`` with ``value=None`` and an ``error`` naming why (an inconclusive measurement, which holds a
    rollout rather than deciding it). A provider that does not serve ``query.provider`` says so the same way.
    """

    def measure(self, query: MetricQuery) -> Measurement:
        """The metric's value over the last ``query.window_seconds``, with the query text it ran."""


class HookCaller(Protocol):
    """Calls a rollout webhook (``HookCall``): POSTs its body, signed when it names a signing setting, within
    its timeout, retrying a failed attempt (no answer, 408, 429, 5xx) up to ``retries`` times with backoff.
    Never raises: the outcome says the last status and why it failed."""

    def call(self, call: HookCall) -> HookOutcome:
        """The outcome of the call after its attempts."""


class HealthProbe(Protocol):
    """Probes a revision's ASP.NET Core HealthChecks endpoint."""

    def probe(self, environment: str, service: str, revision: str, path: str) -> HealthReport:
        """One probe; timeouts, refused connections and bad bodies are Unhealthy reports, never raised."""


class DesiredState(Protocol):
    """Where desired state lives: release manifests in Git plus the stack outputs."""

    def environments(self) -> list[str]:
        """The environments the desired state declares, sorted."""

    def releases(self, environment: str) -> list[Release]:
        """The desired releases of an environment at the configured ref, in apply order."""

    def revision(self) -> str:
        """The commit (or content hash) the desired state was read at."""


class WebhookPoster(Protocol):
    """Posts JSON to a webhook URL (a secret: never logged, never in an error)."""

    def post(self, url: str, body: Mapping[str, Any]) -> WebhookAnswer:
        """One POST within the adapter's timeout; the answer's status, or status None and the reason when no
        answer came (refused, timed out, unreachable). Never raises for the receiver's failures."""
