"""Pages of a listing kept in memory while nothing it lists changed: a version row that every write bumps.

    ListingVersions  PartitionKey=listing name  RowKey="version"  body {"version": a random token}

How kube-apiserver serves a list from its watch cache at a resourceVersion, for an app of many stateless instances:
each instance keeps the pages it read, filed under the listing's version it read *before* the page, and serves a
page again only to a request that reads that same version. A request then costs at most one point read of the version
row while nothing changed, and a read of the index otherwise. Every write of the listing's index calls ``changed``
*after* its index rows are written, which stores a new random token (never one seen before, so no
``A -> B -> A``; tokens, not etags: an etag's clock may not tell two writes of one tick apart).

Why a page served from memory is never older than a finished write (read-your-writes across instances): a write
finished before a request began has bumped the version before the request read it, so the request reads that
version or a later one; a page kept under that version was read after a request read it, so after the write's
index rows were written. Two requests that read different versions never share a page (a page is kept only if
the instance still files pages under the version its reader read).

What a crash costs: a writer that dies between its index rows and its bump leaves its change out of the pages
kept under the current version; ``MAX_AGE`` bounds how long (as does the next write of anything listed). An
instance of an older release that writes the index without bumping is bounded the same way.

Why not time-bucketed index partitions: on Azure a partition's key range is already read in order and stopped at a
page; the cost on the local host is Azurite's, which evaluates every query over the whole table and sorts what
matches (single-threaded), whatever the partition. Measured with ``bench/api.py`` (10,000 deployments, 50
concurrent callers, a shared 2-core machine): p95 578 ms reading the index for every request (2,961 ms in an earlier
run), 202 ms with this cache, against the host's own floor of 69 ms.

Concurrent requests share reads, without weakening that guarantee (group commit, for reads):
- the version: a request waits for the next read of the version row that *starts* after it arrived (one at a time
  per instance; those that arrive while one is under way share the one after it). That read sees every write
  finished before the request arrived, so the guarantee holds, and under load an instance reads the row about
  once per round trip, not once per request: with 50 concurrent callers the row's read (a few ms of the azure-core
  pipeline's CPU, under the GIL with every other request) was most of what a kept page cost beyond the host's
  floor (measured with ``?top=5``).
- a page: those missing the same page while the version stands wait for one read of it (single flight), so a burst
  after a change reads the index once per page, not once per request.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.errors import NotFound

TABLE = "ListingVersions"
ROW = "version"
MAX_AGE = 10.0  # seconds a kept page is served at most: bounds what a writer that crashed before its bump hides
PAGES_KEPT = 2_000  # per listing and instance: a page of summaries is tens of KB at most
Page = TypeVar("Page")


def bump_version(tables: DocumentTables, listing: str) -> None:
    """A new version of ``listing``: what any instance kept of it is stale (every writer of its index calls this
    after its rows, ``ListingCache.changed`` or a writer with no cache of its own, as retention)."""
    tables.upsert(TABLE, Document(listing, ROW, {"version": uuid.uuid4().hex}))


@dataclass
class _Flight(Generic[Page]):
    """One read of a page that concurrent requests for it wait for."""

    done: threading.Event = field(default_factory=threading.Event)
    page: Page | None = None


class ListingCache(Generic[Page]):
    """The pages of one listing (``name``) this instance read, kept under the version they were read at."""

    def __init__(self, tables: DocumentTables, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._tables = tables
        self._name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._version: str | None = None  # the version the kept pages were read at
        self._pages: OrderedDict[Hashable, tuple[float, Page]] = OrderedDict()
        self._flights: dict[Hashable, _Flight[Page]] = {}
        self._versions = _SharedReads(self._read_version)

    def changed(self) -> None:
        """Call after every write of what the listing shows: every instance's kept pages are stale from now on."""
        bump_version(self._tables, self._name)

    def page(self, key: Hashable, read: Callable[[], Page]) -> Page:
        """The page ``key`` names: kept if read at the current version less than ``MAX_AGE`` ago, else ``read()``
        (once for every request that asks for it meanwhile) and kept."""
        version = self._versions.read()
        with self._lock:
            if version != self._version:
                self._version, self._pages, self._flights = version, OrderedDict(), {}
            kept = self._pages.get(key)
            if kept is not None and self._clock() - kept[0] < MAX_AGE:
                self._pages.move_to_end(key)
                return kept[1]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            return flight.page if flight.page is not None else read()  # the leader failed: read for ourselves
        page: Page | None = None
        try:
            read_at = self._clock()
            page = flight.page = read()
        finally:
            with self._lock:
                if page is not None and version == self._version:
                    self._pages[key] = (read_at, page)
                    self._pages.move_to_end(key)
                    if len(self._pages) > PAGES_KEPT:
                        self._pages.popitem(last=False)
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()
        return page

    def _read_version(self) -> str | None:
        try:
            return str(self._tables.get(TABLE, self._name, ROW).body["version"])
        except NotFound:  # nothing written since the table was made: a write creates the row
            return None


@dataclass
class _Round:
    """One read of the version row, and the requests waiting for it."""

    done: bool = False
    value: str | None = None
    failed: bool = False


class _SharedReads:
    """``read()`` answers what a call of ``fetch`` that started after it was called returned: one call at a time,
    shared by every request that arrived while the one before it was under way."""

    def __init__(self, fetch: Callable[[], str | None]) -> None:
        self._fetch = fetch
        self._turn = threading.Condition()
        self._running = False
        self._next: _Round | None = None  # the round not yet started: a request arriving now joins it

    def read(self) -> str | None:
        with self._turn:
            mine = self._next = self._next or _Round()
            while not mine.done:
                if not self._running and self._next is mine:
                    self._running, self._next = True, None
                    break
                self._turn.wait()
            else:
                if not mine.failed:
                    return mine.value
        if mine.done:  # the round's read failed: this request reads (and fails) on its own
            return self._fetch()
        try:
            mine.value = self._fetch()
        except BaseException:
            mine.failed = True
            raise
        finally:
            with self._turn:
                mine.done, self._running = True, False
                self._turn.notify_all()
        return mine.value
