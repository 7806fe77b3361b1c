"""The listing cache (``adapters.storage.listing_cache``): pages kept under the version they were read at."""

from __future__ import annotations

import threading

import pytest

from controlplane.adapters.storage import listing_cache
from controlplane.adapters.storage.documents import Document
from controlplane.adapters.storage.listing_cache import ListingCache
from controlplane.adapters.storage.stores import create_tables
from controlplane.errors import TransientError
from controlplane.testing.memory_documents import MemoryDocumentTables


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tables() -> MemoryDocumentTables:
    tables = MemoryDocumentTables()
    create_tables(tables)
    return tables


class Reads:
    """A page reader that counts its reads and answers the read's number."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        return self.count


def test_a_page_is_read_again_only_after_a_change_on_any_instance(tables: MemoryDocumentTables) -> None:
    mine, other, reads = ListingCache[int](tables, "things"), ListingCache[int](tables, "things"), Reads()
    assert [mine.page("p1", reads), mine.page("p1", reads), mine.page("p2", reads)] == [1, 1, 2]
    other.changed()
    assert [mine.page("p1", reads), mine.page("p2", reads), mine.page("p1", reads)] == [3, 4, 3]
    ListingCache[int](tables, "others").changed()  # another listing's change
    assert mine.page("p1", reads) == 3


def test_a_kept_page_is_read_again_after_its_maximum_age(tables: MemoryDocumentTables) -> None:
    clock, reads = Clock(), Reads()
    cache = ListingCache[int](tables, "things", clock)
    cache.page("p1", reads)
    clock.now += listing_cache.MAX_AGE - 0.001
    assert cache.page("p1", reads) == 1
    clock.now += 0.001
    assert cache.page("p1", reads) == 2


def test_a_failed_read_is_not_kept(tables: MemoryDocumentTables) -> None:
    cache, reads = ListingCache[int](tables, "things"), Reads()

    def failing() -> int:
        raise TransientError("storage unreachable")

    with pytest.raises(TransientError):
        cache.page("p1", failing)
    assert cache.page("p1", reads) == 1


def test_requests_missing_one_page_together_share_one_read(tables: MemoryDocumentTables) -> None:
    cache, reads, entered, release = ListingCache[int](tables, "things"), Reads(), threading.Event(), threading.Event()

    def slow() -> int:
        entered.set()
        release.wait()
        return reads()

    answers: list[int] = []
    leader = threading.Thread(target=lambda: answers.append(cache.page("p1", slow)))
    leader.start()
    entered.wait()
    followers = [threading.Thread(target=lambda: answers.append(cache.page("p1", reads))) for _ in range(3)]
    for follower in followers:
        follower.start()
    for follower in followers:  # let them reach the page (without one flight they would read it and end here)
        follower.join(timeout=0.2)
    release.set()
    for thread in [leader, *followers]:
        thread.join()
    assert answers == [1, 1, 1, 1] and reads.count == 1


class HeldReads(MemoryDocumentTables):
    """Tables whose first read of a version row is held, after it read the row, until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.reading, self.release, self._held = threading.Event(), threading.Event(), False

    def get(self, table: str, partition: str, row: str) -> Document:
        try:
            return super().get(table, partition, row)
        finally:
            if table == listing_cache.TABLE and not self._held:
                self._held = True
                self.reading.set()
                self.release.wait()


def test_a_request_never_shares_a_version_read_that_began_before_it_arrived() -> None:
    """A version read under way when a write finishes may have missed it: a request arriving after the write waits
    for the next read instead (and those arriving together share that one)."""
    tables = HeldReads()
    create_tables(tables)
    mine, reads, answers = ListingCache[int](tables, "things"), Reads(), {}
    early = threading.Thread(target=lambda: answers.update(early=mine.page("p1", reads)))
    early.start()
    tables.reading.wait()  # the early request's version read is under way, the version as it was
    ListingCache[int](tables, "things").changed()  # a pipeline's write finishes on another instance
    late = [threading.Thread(target=lambda n=n: answers.update({n: mine.page("p1", reads)})) for n in range(3)]
    for thread in late:
        thread.start()
    for thread in late:  # let them reach the version read (sharing the early one, they would end here)
        thread.join(timeout=0.2)
    tables.release.set()
    for thread in [early, *late]:
        thread.join()
    assert answers == {"early": 1, 0: 2, 1: 2, 2: 2}
