"""Benchmark: the local router's request log at its cap — memory per revision, and what counting and reading cost.

Run: ``.venv/bin/python bench/router_analysis.py [--samples 50000] [--repeat 5]``. Fills one revision's log with
``--samples`` requests (a tenth of them 5xx, durations spread over 1..500 ms), then times ``record`` (what each
proxied request adds, under the router's lock), a 1-hour ``window`` (what one analysis measurement holds the
lock for) and the p95 of that window (sorted after the lock is released), best of ``--repeat``. Prints a
table, then one JSON object of the figures as the last line.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.adapters.local.request_log import MAX_SAMPLES, RequestLog, percentile


def filled(samples: int) -> RequestLog:
    log = RequestLog(max_samples=samples)
    for number in range(samples):
        log.record(number * 0.05, 500 if number % 10 == 0 else 200, float(1 + number * 7919 % 500))
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=MAX_SAMPLES)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()

    tracemalloc.start()
    log = filled(arguments.samples)
    memory, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    now = arguments.samples * 0.05
    records, reads, ranks = [], [], []
    for _ in range(arguments.repeat):
        began = time.perf_counter()
        for number in range(10_000):  # at the cap: each append also drops the oldest
            log.record(now, 200, float(number % 500))
        records.append((time.perf_counter() - began) / 10_000)
        began = time.perf_counter()
        window = log.window(now, 3600)
        reads.append(time.perf_counter() - began)
        began = time.perf_counter()
        percentile(window.durations_ms, 95)
        ranks.append(time.perf_counter() - began)

    figures = {
        "samples": arguments.samples,
        "memory_mb": round(memory / 1e6, 2),
        "bytes_per_sample": round(memory / arguments.samples),
        "record_us": round(min(records) * 1e6, 2),
        "window_ms": round(min(reads) * 1e3, 2),
        "p95_ms": round(min(ranks) * 1e3, 2),
    }
    print(f"Router request log, one revision at {arguments.samples} samples, best of {arguments.repeat}")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'measure':<28} {'value':>12}")
    print(f"{'memory (MB)':<28} {figures['memory_mb']:>12}")
    print(f"{'bytes per sample':<28} {figures['bytes_per_sample']:>12}")
    print(f"{'record (µs)':<28} {figures['record_us']:>12}")
    print(f"{'1 h window, locked (ms)':<28} {figures['window_ms']:>12}")
    print(f"{'p95 of it, unlocked (ms)':<28} {figures['p95_ms']:>12}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
