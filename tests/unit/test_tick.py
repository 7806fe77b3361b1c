"""A loop's tick: work for many services at once up to a bound, slow calls cut at the tick's deadline."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from controlplane.services.tick import Tick, TickLimits


def test_services_are_worked_on_concurrently_up_to_the_bound() -> None:
    bound = 4
    together = threading.Barrier(bound, timeout=10)  # breaks unless ``bound`` services run at once
    lock = threading.Lock()
    running = peak = 0

    def work(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        together.wait()
        with lock:
            running -= 1
        return item * 2

    with Tick(TickLimits(concurrency=bound)) as tick:
        outcomes = tick.each(list(range(12)), work)

    assert outcomes == [item * 2 for item in range(12)]
    assert peak == bound


def test_a_call_still_running_at_the_deadline_is_no_answer_and_the_others_are_kept() -> None:
    hung = threading.Event()
    try:
        with Tick(TickLimits(concurrency=8, deadline=timedelta(seconds=0.5))) as tick:
            outcomes = tick.each(
                ["a", "hangs", "b"], lambda item: tick.within(lambda: hung.wait() if item == "hangs" else item)
            )
    finally:
        hung.set()
    assert outcomes == ["a", None, "b"]


def test_after_the_deadline_no_call_is_made() -> None:
    called = []
    with Tick(TickLimits(deadline=timedelta(0))) as tick:
        assert tick.within(lambda: called.append("made")) is None
    assert called == []


def test_an_error_in_one_service_is_its_outcome_not_the_ticks() -> None:
    def work(item: str) -> str:
        if item == "bad":
            raise ValueError("broken")
        return item

    with Tick(TickLimits()) as tick:
        good, bad, other = tick.each(["good", "bad", "other"], work)
    assert (good, other) == ("good", "other")
    assert isinstance(bad, ValueError)


def test_an_error_of_a_call_in_time_reaches_its_caller() -> None:
    def fails() -> None:
        raise ValueError("no answer")

    with Tick(TickLimits()) as tick, pytest.raises(ValueError, match="no answer"):
        tick.within(fails)


def test_a_tick_short_of_time_leaves_different_services_without_a_reading_each_time() -> None:
    """With one worker the services run in the order they are started: a tick that runs out of time leaves the
    last ones without a reading, and those differ from tick to tick."""

    def first_reached(seed: str) -> list[str]:
        items = [f"svc{n}" for n in range(20)]
        with Tick(TickLimits(concurrency=1, deadline=timedelta(seconds=5))) as tick:
            reached: list[str] = []

            def work(item: str) -> str | None:
                reached.append(item)
                return item

            outcomes = tick.each(items, work, seed)
        assert outcomes == items, "outcomes come back in the items' order whatever order they ran in"
        return reached[:3]

    assert first_reached("") == ["svc0", "svc1", "svc2"]
    orders = {tuple(first_reached(f"2026-12-06T12:00:{second:02d}Z")) for second in range(0, 60, 10)}
    assert len(orders) > 1, "each tick starts the services in another order"
    assert first_reached("seed") == first_reached("seed"), "the order is the tick's: the same seed, the same order"
