"""One revision's proxied requests as the local router saw them, and the arithmetic read from them.

The router records every request it proxied to a revision: when it ended (``time.monotonic()``), whether it
was an error (status >= 500: the app's own 5xx answers, and the router's 502 when every replica of the
revision refused or failed), and how long it took in milliseconds. A log keeps totals since the router
started, plus one sample per request for the last ``horizon_seconds`` (the longest analysis window), at most
``max_samples`` of them. Memory is therefore bounded per revision: a sample is a 3-tuple of about 130
bytes with its deque slot, so the default 50 000 samples are at most about 6.4 MB per revision, whatever the
traffic (``bench/router_analysis.py``); at more than 50 000 requests an hour a window covers only the latest
50 000 requests, and says so. Samples older than the horizon are dropped whenever the log is written or
read (``stats`` reads every log), so a revision that no longer gets traffic lets go of them within an hour.

Windows count the samples whose time is within the last ``seconds``, bounds included (``at >= now -
seconds``). Latency percentiles use the nearest-rank method (``percentile``), so a percentile is always a
duration some request really took.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

HORIZON_SECONDS = 3600.0  # the manifest's longest analysis interval
MAX_SAMPLES = 50_000


class Sample(NamedTuple):
    at: float  # time.monotonic() when the answer was in
    error: bool
    duration_ms: float


@dataclass(frozen=True)
class RequestWindow:
    """A revision's requests over the last ``seconds``: how many, how many were errors (5xx), and their
    durations in ms in the order they were answered. ``truncated``: the sample cap dropped requests of the
    window, so it covers only the latest ``requests`` of them."""

    seconds: float
    requests: int
    errors: int
    durations_ms: tuple[float, ...]
    truncated: bool = False


class RequestLog:
    """A revision's requests: totals since start, and samples over the horizon (see the module). Not thread-safe:
    the router's lock guards it."""

    def __init__(self, horizon_seconds: float = HORIZON_SECONDS, max_samples: int = MAX_SAMPLES) -> None:
        self.requests = 0
        self.errors = 0
        self._horizon = horizon_seconds
        self._samples: deque[Sample] = deque(maxlen=max_samples)  # a full deque drops its oldest on append
        self._dropped_at: float | None = None  # the newest sample the cap dropped (not the horizon)

    def record(self, at: float, status: int, duration_ms: float) -> None:
        """Count one answered request (``status`` as the client got it)."""
        error = status >= 500
        self.requests += 1
        self.errors += error
        if len(self._samples) == self._samples.maxlen:
            self._dropped_at = self._samples[0].at
        self._samples.append(Sample(at, error, duration_ms))
        self.trim(at)

    def trim(self, now: float) -> None:
        """Forget the samples older than the horizon."""
        while self._samples and self._samples[0].at < now - self._horizon:
            self._samples.popleft()

    def count_since(self, since: float) -> int:
        """The requests answered at or after ``since``."""
        count = 0
        for sample in reversed(self._samples):
            if sample.at < since:
                break
            count += 1
        return count

    def window(self, now: float, seconds: float) -> RequestWindow:
        """The requests of the last ``seconds`` (at most the horizon; a longer window is cut to it). Linear in the
        window's requests, and nothing sorted: the router holds its lock for this, so ``percentile`` sorts later."""
        seconds = min(seconds, self._horizon)
        since = now - seconds
        inside = []
        for sample in reversed(self._samples):
            if sample.at < since:
                break
            inside.append(sample)
        inside.reverse()
        return RequestWindow(
            seconds=seconds,
            requests=len(inside),
            errors=sum(sample.error for sample in inside),
            durations_ms=tuple(sample.duration_ms for sample in inside),
            truncated=self._dropped_at is not None and self._dropped_at >= since,
        )


def percentile(values: Iterable[float], percent: float) -> float:
    """The nearest-rank ``percent`` percentile (0 < percent <= 100) of values (at least one, in any order).

    The value at rank ``ceil(percent / 100 * n)`` (1-based) of the values sorted ascending: the smallest value
    that at least ``percent`` percent of the values are at or below, so "p95 <= 500 ms" reads "95 % of
    requests took 500 ms or less".
    No interpolation: the answer is always a duration some request took. Worked examples:

        values (ms)               | percent | n  | rank = ceil(p/100*n) | value
        ------------------------- | ------- | -- | -------------------- | -----
        10 20 30 40               | 50      | 4  | ceil(2.0)  = 2       | 20
        10 20 30 40               | 75      | 4  | ceil(3.0)  = 3       | 30
        10 20 30 40               | 95      | 4  | ceil(3.8)  = 4       | 40
        10 20 30 40               | 1       | 4  | ceil(0.04) = 1       | 10
        1..20 (1, 2, ..., 20)     | 95      | 20 | ceil(19.0) = 19      | 19
        1..20                     | 99      | 20 | ceil(19.8) = 20      | 20
        7                         | 99.9    | 1  | ceil(0.999) = 1      | 7
    """
    sorted_values = sorted(values)
    if not sorted_values:
        raise ValueError("a percentile of no values")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100] (got {percent})")
    # round() first: 7/100*100 is 7.000000000000001 in floating point, whose ceiling would be 8.
    rank = math.ceil(round(percent / 100 * len(sorted_values), 9))
    return sorted_values[max(rank, 1) - 1]
