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
matches (single-threaded), whatever the partition.

Concurrent requests share reads, without weakening that guarantee (group commit, for reads):
- the version: a request waits for the next read of the version row that *starts* after it arrived (one at a time
  per instance; those that arrive while one is under way share the one after it). That read sees every write
  finished before the request arrived, so the guarantee holds.
- a page: those missing the same page while the version stands wait for one read of it (single flight), so a burst
  after a change reads the index once per page, not once per request.

The cache is awaited: the listing's HTTP function is an ``async def``, which the Python worker runs on its event
loop, not on its thread pool for sync functions (``PYTHON_THREADPOOL_THREAD_COUNT``, 6 threads on 2 cores), so
every request under way can join a round, not only the six the pool runs at once, and no request waits for a pool
thread. The reads themselves (the SDK's sync client) run on a worker thread (``asyncio.to_thread``): one per round,
not one per request. Measured with ``bench/api.py`` (10,000 deployments, 50 concurrent callers, 2 vCPUs shared
with other work; ``?top=50``): as a sync function, p95 124 to 202 ms, the host's CPU 1.2 ms and Azurite's 0.55 ms a
request; awaited, p95 68 to 74 ms, 0.8 to 1.0 ms and 0.10 to 0.14 ms (fewer version reads, each shared by more),
about what ``GET /api/me`` (no storage read) costs the host.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.errors import NotFound

TABLE = "ListingVersions"
ROW = "version"
MAX_AGE = 10.0  # seconds a kept page is served at most: bounds what a writer that crashed before its bump hides
PAGES_KEPT = 2_000  # per listing and instance: a page of summaries is tens of KB at most
Page = TypeVar("Page")
Value = TypeVar("Value")


def bump_version(tables: DocumentTables, listing: str) -> None:
    """A new version of ``listing``: what any instance kept of it is stale (every writer of its index calls this
    after its rows, ``ListingCache.changed`` or a writer with no cache of its own, as retention)."""
    tables.upsert(TABLE, Document(listing, ROW, {"version": uuid.uuid4().hex}))


class ListingCache(Generic[Page]):
    """The pages of one listing (``name``) this instance read, kept under the version they were read at.

    Awaited on one event loop (the worker's); its state is guarded by a lock all the same, so a caller on another
    loop (a test's ``asyncio.run``) is served correctly, only without sharing reads under way on the first."""

    def __init__(self, tables: DocumentTables, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._tables = tables
        self._name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._version: str | None = None  # the version the kept pages were read at
        self._pages: OrderedDict[Hashable, tuple[float, Page]] = OrderedDict()
        self._flights: dict[Hashable, asyncio.Task[Page]] = {}
        self._versions = SharedReads(self._read_version)

    def changed(self) -> None:
        """Call after every write of what the listing shows: every instance's kept pages are stale from now on."""
        bump_version(self._tables, self._name)

    async def page(self, key: Hashable, read: Callable[[], Page]) -> Page:
        """The page ``key`` names: kept if read at the current version less than ``MAX_AGE`` ago, else ``read()``
        (on a worker thread, once for every request that asks for it meanwhile) and kept."""
        version = await self._versions.read()
        loop = asyncio.get_running_loop()
        with self._lock:
            if version != self._version:
                self._version, self._pages, self._flights = version, OrderedDict(), {}
            kept = self._pages.get(key)
            if kept is not None and self._clock() - kept[0] < MAX_AGE:
                self._pages.move_to_end(key)
                return kept[1]
            flight = self._flights.get(key)
            if flight is None or flight.get_loop() is not loop:
                flight = self._flights[key] = loop.create_task(self._read_page(key, version, read))
        # Shielded: a request cancelled (its function timed out) leaves the read to those still waiting for it.
        return await asyncio.shield(flight)

    async def _read_page(self, key: Hashable, version: str | None, read: Callable[[], Page]) -> Page:
        flight = asyncio.current_task()
        read_at = self._clock()
        try:
            page = await asyncio.to_thread(read)
        finally:
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
        with self._lock:
            if version == self._version:  # else the listing changed meanwhile: those pages are dropped already
                self._pages[key] = (read_at, page)
                self._pages.move_to_end(key)
                if len(self._pages) > PAGES_KEPT:
                    self._pages.popitem(last=False)
        return page

    def _read_version(self) -> str | None:
        try:
            return str(self._tables.get(TABLE, self._name, ROW).body["version"])
        except NotFound:  # nothing written since the table was made: a write creates the row
            return None


class SharedReads(Generic[Value]):
    """``read()`` answers what a call of ``fetch`` that *started* after ``read()`` was called returned: one call at
    a time (on a worker thread), shared by every ``read()`` that arrived while the one before it was under way; its
    failure is theirs too (a read that failed for one would fail for the others, and 50 retries of it would only
    load what is already failing).

        read() arrives   fetch under way   it shares
        t=0              none              fetch #1, started at once
        t=1              #1 (began t=0)    fetch #2, started when #1 ends: #1 may have read before t=1
        t=2              #1                fetch #2, with the one of t=1

    The rounds belong to the event loop that started the first; a ``read()`` on another loop fetches on its own.
    """

    def __init__(self, fetch: Callable[[], Value]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the rounds under way or waiting
        self._running = False
        self._next: asyncio.Future[Value] | None = None  # the round not yet started: a read arriving now joins it

    async def read(self) -> Value:
        loop = asyncio.get_running_loop()
        with self._lock:
            shared = self._loop in (None, loop)
            if shared:
                self._loop = loop
                if self._next is None:
                    self._next = loop.create_future()
                mine = self._next
                if not self._running:
                    self._start()
        if not shared:
            return await asyncio.to_thread(self._fetch)
        return await asyncio.shield(mine)  # shielded: a request cancelled leaves the round to the others

    def _start(self) -> None:
        """Start the waiting round (under the lock, on the rounds' loop)."""
        assert self._loop is not None and self._next is not None
        self._running, round_, self._next = True, self._next, None
        self._loop.create_task(self._run(round_))

    async def _run(self, round_: asyncio.Future[Value]) -> None:
        try:
            round_.set_result(await asyncio.to_thread(self._fetch))
        except Exception as error:
            round_.set_exception(error)
        finally:
            with self._lock:
                self._running = False
                if not round_.done():  # cancelled (the loop is closing) or worse: the rounds waiting end too
                    round_.cancel()
                    if self._next is not None:
                        self._next.cancel()
                        self._next = None
                if self._next is not None:
                    self._start()
                else:
                    self._loop = None
