"""Replica endpoints of revisions, resolved once and reused for a while: what the health probe asks compute for.

On Azure a revision's endpoints come from Azure Resource Manager (a Container Apps revision's FQDN) or the
cluster's API server (an AKS revision's pod IPs): a read of tens to hundreds of milliseconds, which the failure
monitor would otherwise make for every service on every tick. The cache key is (environment, service,
revision), so a new revision is always resolved afresh; a revision's own endpoints are reused for ``ttl``:

    resolved at t=0 ["http://10.0.0.4:8080"]    | probe at t=10: reused       | probe at t=31 (ttl 30): resolved
    nothing running (empty list)                | never kept: resolved again at the next probe
    ``forget`` (the probe failed on them)       | resolved again at the next probe

The probe forgets a revision whose reused endpoints did not answer Healthy and probes what a fresh resolution
names (``HttpHealthProbe``), so a stale list (a pod restarted on a new IP, a revision deactivated) never
decides a check: only a replica started within ``ttl`` of the last resolution waits that long to be probed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Resolve = Callable[[str, str, str], list[str]]
_Key = tuple[str, str, str]


class CachedEndpoints:
    """``resolve(environment, service, revision)`` with each non-empty answer reused for ``ttl_seconds``."""

    def __init__(self, resolve: Resolve, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._resolve = resolve
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[_Key, tuple[float, list[str]]] = {}
        self._pruned_at = clock()

    def resolve(self, environment: str, service: str, revision: str) -> tuple[list[str], bool]:
        """The revision's endpoints, and whether they were reused (True) or resolved just now (False)."""
        key = (environment, service, revision)
        now = self._clock()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] < self._ttl:
                return list(kept[1]), True
        endpoints = list(self._resolve(environment, service, revision))
        with self._lock:
            if endpoints and self._ttl > 0:
                self._kept[key] = (now, endpoints)
            else:
                self._kept.pop(key, None)
            if now - self._pruned_at >= self._ttl:  # revisions come and go: once a ttl, drop the expired
                self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self._ttl}
                self._pruned_at = now
        return list(endpoints), False

    def forget(self, environment: str, service: str, revision: str) -> None:
        """Resolve the revision afresh at its next use."""
        with self._lock:
            self._kept.pop((environment, service, revision), None)
