"""The local router's request log: windows over monotonic time, the sample cap, nearest-rank percentiles."""

from __future__ import annotations

import pytest

from controlplane.adapters.local.request_log import RequestLog, RequestWindow, percentile


def log_of(*requests: tuple[float, int, float], horizon: float = 3600, cap: int = 1000) -> RequestLog:
    log = RequestLog(horizon, cap)
    for at, status, duration_ms in requests:
        log.record(at, status, duration_ms)
    return log


# One revision's requests (time s, status, duration ms) and what windows ending at t=100 read from them:
#
#     at    | 40  | 70  | 90  | 95  | 100
#     status| 200 | 500 | 404 | 502 | 200
#     ms    | 5   | 50  | 7   | 30  | 12
#
#     window | requests counted (at >= 100 - window) | requests | errors | durations (as answered)
#     5 s    | 95, 100                               | 2        | 1      | 30 12
#     10 s   | 90, 95, 100                           | 3        | 1      | 7 30 12
#     30 s   | 70 .. 100                             | 4        | 2      | 50 7 30 12
#     60 s   | 40 .. 100                             | 5        | 2      | 5 50 7 30 12
STREAM = ((40, 200, 5), (70, 500, 50), (90, 404, 7), (95, 502, 30), (100, 200, 12))


@pytest.mark.parametrize(
    ("seconds", "requests", "errors", "durations"),
    [
        (5, 2, 1, (30, 12)),
        (10, 3, 1, (7, 30, 12)),
        (30, 4, 2, (50, 7, 30, 12)),
        (60, 5, 2, (5, 50, 7, 30, 12)),
    ],
)
def test_a_window_counts_requests_at_or_after_its_start(
    seconds: float, requests: int, errors: int, durations: tuple[float, ...]
) -> None:
    window = log_of(*STREAM).window(100, seconds)
    assert window == RequestWindow(seconds, requests, errors, durations)


def test_errors_are_5xx_answers_including_the_routers_502_not_4xx() -> None:
    log = log_of((1, 500, 1), (2, 502, 1), (3, 503, 1), (4, 404, 1), (5, 429, 1), (6, 200, 1))
    assert (log.requests, log.errors) == (6, 3)
    assert log.window(6, 10).errors == 3


def test_totals_outlive_the_horizon_but_samples_do_not() -> None:
    log = log_of((0, 500, 9), (30, 200, 1), (61, 200, 2), horizon=60)
    assert (log.requests, log.errors) == (3, 1)
    assert log.window(61, 3600) == RequestWindow(60, 2, 0, (1, 2))  # cut to the horizon; t=0 is gone
    log.trim(200)
    assert log.window(200, 60).requests == 0 and log.requests == 3


def test_count_since_counts_from_the_newest_back() -> None:
    log = log_of(*STREAM)
    assert [log.count_since(since) for since in (101, 100, 90, 0)] == [0, 1, 3, 5]


def test_the_cap_keeps_the_latest_samples_and_marks_windows_it_cut() -> None:
    log = log_of(*((float(at), 200, float(at)) for at in range(1, 6)), cap=3)
    assert log.requests == 5  # totals are not capped
    cut = log.window(5, 100)
    assert (cut.requests, cut.durations_ms, cut.truncated) == (3, (3.0, 4.0, 5.0), True)
    whole = log.window(5, 1)  # from t=4: the cap dropped t=1 and t=2 only
    assert (whole.requests, whole.truncated) == (2, False)


def test_an_empty_log_has_an_empty_window() -> None:
    assert RequestLog().window(10, 30) == RequestWindow(30, 0, 0, ())


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ((10, 20, 30, 40), 50, 20),
        ((40, 10, 30, 20), 50, 20),  # any order
        ((10, 20, 30, 40), 75, 30),
        ((10, 20, 30, 40), 95, 40),
        ((10, 20, 30, 40), 1, 10),
        ((10, 20, 30, 40), 100, 40),
        (tuple(range(1, 21)), 95, 19),
        (tuple(range(1, 21)), 99, 20),
        (tuple(range(1, 101)), 7, 7),  # 7/100*100 is 7.000000000000001 in floating point: still rank 7
        (tuple(range(1, 101)), 29, 29),
        ((7,), 99.9, 7),
    ],
)
def test_nearest_rank_percentile(values: tuple[float, ...], percent: float, expected: float) -> None:
    assert percentile(values, percent) == expected


@pytest.mark.parametrize("percent", [0, -5, 100.5, float("nan")])
def test_a_percentile_out_of_range_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match="percent"):
        percentile((1, 2, 3), percent)


def test_a_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile((), 95)
