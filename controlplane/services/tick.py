"""One tick of a control loop over many services: concurrent with a bound, and with a deadline.

A loop's tick does the same work for every service of the catalog, and most of that work waits on the network
(a health probe, a metrics query). ``Tick.each`` runs it for ``limits.concurrency`` services at a time on
worker threads (the loops' port calls are synchronous), and ``Tick.within`` bounds the one slow call a service
makes by the tick's deadline: a call still running then is *no answer for this tick* (``None``), and the
service's work goes on without it, so one hung endpoint never holds up the others or the tick. The hung call
keeps its thread until its own timeout ends it; it is never waited for.

    1,000 services, 200 ms probes, concurrency 64: ~16 waves of 200 ms = ~3.2 s, plus the table operations.
    one probe hangs: that service has no reading this tick; the 999 others are decided as usual.
    deadline passed before a service's turn: no call is made; the service has no reading this tick.

When a tick runs short of time (its storage is slow, or there are more services than the deadline allows),
the services it reaches too late have no reading. ``each`` starts them in an order that changes every tick
(shuffled with the tick's ``seed``, its time), so the ones left without a reading differ from tick to tick
and no service is starved by its place in the catalog.

Each service's work runs to its end (its reads and conditional writes are short storage calls); only the
calls passed to ``within`` are cut at the deadline. An error in one service's work is returned in its slot,
not raised, so the others' outcomes are kept. Work and calls run in a copy of the caller's context (the
current span, the log fields), as if they ran on the caller's thread.
"""

from __future__ import annotations

import contextvars
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as CallTimedOut
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class TickLimits:
    """How many services a tick works on at once, and how long its slow calls may take in all."""

    concurrency: int = 64
    deadline: timedelta = timedelta(seconds=8)  # under the monitor's 10 s schedule


class Tick:
    """One tick: its deadline starts when it is entered (``with Tick(limits) as tick:``)."""

    def __init__(self, limits: TickLimits) -> None:
        self._limits = limits
        self._ends = time.monotonic() + limits.deadline.total_seconds()
        # Each worker of ``each`` waits on at most one call at a time: as many call threads never starve one.
        self._calls = ThreadPoolExecutor(limits.concurrency, thread_name_prefix="tick-call")

    def __enter__(self) -> Tick:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._calls.shutdown(wait=False, cancel_futures=True)  # never wait for a hung call

    def each(self, items: Sequence[Item], work: Callable[[Item], Result], seed: str = "") -> list[Result | Exception]:
        """``work`` of every item, at most ``concurrency`` at a time, started in an order shuffled by ``seed``
        (as given when it is empty); results (or the error raised) in the items' order."""
        turns = list(range(len(items)))
        if seed:
            random.Random(seed).shuffle(turns)
        with ThreadPoolExecutor(self._limits.concurrency, thread_name_prefix="tick") as workers:
            started = {turn: workers.submit(contextvars.copy_context().run, work, items[turn]) for turn in turns}
            outcomes: list[Result | Exception] = []
            for future in (started[index] for index in range(len(items))):
                error = future.exception()
                if error is not None and not isinstance(error, Exception):
                    raise error  # SystemExit, KeyboardInterrupt: the process is going down, not one service
                outcomes.append(error if error is not None else future.result())
            return outcomes

    def within(self, call: Callable[[], Result]) -> Result | None:
        """``call``'s result if it returns by the tick's deadline; None if it does not (or the deadline has
        passed: it is not called). Its error, if it raises in time, is raised here."""
        remaining = self._ends - time.monotonic()
        if remaining <= 0:
            return None
        # In the caller's context: the call's spans are children of the caller's, its logs carry its fields.
        future = self._calls.submit(contextvars.copy_context().run, call)
        try:
            return future.result(timeout=remaining)
        except CallTimedOut:
            return None
