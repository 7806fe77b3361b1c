"""The listing cache (``adapters.storage.listing_cache``): pages kept under the version they were read at, and reads
shared by the requests awaiting them together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from controlplane.adapters.storage import listing_cache
from controlplane.adapters.storage.listing_cache import ListingCache, SharedReads
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


def page(cache: ListingCache[int], key: str, read: Callable[[], int]) -> int:
    return asyncio.run(cache.page(key, read))


def test_a_page_is_read_again_only_after_a_change_on_any_instance(tables: MemoryDocumentTables) -> None:
    mine, other, reads = ListingCache[int](tables, "things"), ListingCache[int](tables, "things"), Reads()
    assert [page(mine, "p1", reads), page(mine, "p1", reads), page(mine, "p2", reads)] == [1, 1, 2]
    other.changed()
    assert [page(mine, "p1", reads), page(mine, "p2", reads), page(mine, "p1", reads)] == [3, 4, 3]
    ListingCache[int](tables, "others").changed()  # another listing's change
    assert page(mine, "p1", reads) == 3


def test_a_kept_page_is_read_again_after_its_maximum_age(tables: MemoryDocumentTables) -> None:
    clock, reads = Clock(), Reads()
    cache = ListingCache[int](tables, "things", clock)
    page(cache, "p1", reads)
    clock.now += listing_cache.MAX_AGE - 0.001
    assert page(cache, "p1", reads) == 1
    clock.now += 0.001
    assert page(cache, "p1", reads) == 2


def test_a_failed_read_is_not_kept(tables: MemoryDocumentTables) -> None:
    cache, reads = ListingCache[int](tables, "things"), Reads()

    def failing() -> int:
        raise TransientError("storage unreachable")

    with pytest.raises(TransientError):
        page(cache, "p1", failing)
    assert page(cache, "p1", reads) == 1


def test_requests_missing_one_page_together_share_one_read(tables: MemoryDocumentTables) -> None:
    cache, reads = ListingCache[int](tables, "things"), Reads()

    async def together() -> list[int]:
        return await asyncio.gather(*(cache.page("p1", reads) for _ in range(10)))

    assert asyncio.run(together()) == [1] * 10 and reads.count == 1


class Gate:
    """A fetch that blocks its worker thread until ``open`` is set, then answers ``answer()``; ``started`` counts."""

    def __init__(self, answer: Callable[[], str]) -> None:
        self.answer, self.open, self.started, self.entered = answer, threading.Event(), 0, threading.Event()

    def __call__(self) -> str:
        self.started += 1
        self.entered.set()
        self.open.wait()
        return self.answer()


def test_a_failed_version_read_fails_the_requests_sharing_it_and_the_next_request_reads_again() -> None:
    outcomes = iter([TransientError("storage unreachable"), "v1"])

    def answer() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    gate = Gate(answer)
    reads = SharedReads(gate)

    async def scenario() -> tuple[list[object], str]:
        first = asyncio.create_task(reads.read())
        await asyncio.to_thread(gate.entered.wait)
        gate.open.set()
        shared = await asyncio.gather(first, return_exceptions=True)
        return shared, await reads.read()

    shared, after = asyncio.run(scenario())
    assert [type(outcome) for outcome in shared] == [TransientError] and after == "v1" and gate.started == 2


def test_a_request_cancelled_while_waiting_leaves_the_read_to_the_others() -> None:
    gate = Gate(lambda: "v1")
    reads = SharedReads(gate)

    async def scenario() -> list[str]:
        first = asyncio.create_task(reads.read())
        await asyncio.to_thread(gate.entered.wait)
        waiting = [asyncio.create_task(reads.read()) for _ in range(3)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # its function timed out
        gate.open.set()
        return [await first, *await asyncio.gather(*waiting[1:])]

    assert asyncio.run(scenario()) == ["v1"] * 3 and gate.started == 2


def test_a_read_on_another_event_loop_reads_on_its_own_while_rounds_run_on_the_first() -> None:
    gate, count = Gate(lambda: "v1"), iter(range(100))
    reads = SharedReads(lambda: gate() if next(count) == 0 else "v2")

    async def first_loop() -> str:
        return await reads.read()

    answers: list[str] = []
    thread = threading.Thread(target=lambda: answers.append(asyncio.run(first_loop())))
    thread.start()
    gate.entered.wait()
    assert asyncio.run(reads.read()) == "v2"  # not stuck behind the first loop's round
    gate.open.set()
    thread.join()
    assert answers == ["v1"]
    assert asyncio.run(reads.read()) == "v2"  # the first loop's rounds are over: this loop's now
