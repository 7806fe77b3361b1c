"""Replica endpoints reused between probes: per revision, for a ttl, never trusted for a failing check."""

from __future__ import annotations

import socket

from controlplane.adapters.http.endpoints import CachedEndpoints
from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.domain.health import HealthStatus, ProbeFailure
from tests.integration.test_health_probe_limits import HEALTHY, serving


class Resolver:
    """Answers ``answers[revision]`` and counts what it was asked."""

    def __init__(self, **answers: list[str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, environment: str, service: str, revision: str) -> list[str]:
        self.asked.append(revision)
        return list(self.answers.get(revision, []))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_revisions_endpoints_are_reused_for_the_ttl_then_resolved_again() -> None:
    resolve, clock = Resolver(r1=["http://a"], r2=["http://b"]), Clock()
    cache = CachedEndpoints(resolve, ttl_seconds=30, clock=clock)
    assert cache.resolve("dev", "orders", "r1") == (["http://a"], False)
    clock.now = 29
    assert cache.resolve("dev", "orders", "r1") == (["http://a"], True)
    assert cache.resolve("dev", "orders", "r2") == (["http://b"], False), "a new revision is resolved"
    clock.now = 30
    assert cache.resolve("dev", "orders", "r1") == (["http://a"], False)
    assert resolve.asked == ["r1", "r2", "r1"]


def test_nothing_running_is_never_kept_and_a_forgotten_revision_is_resolved_again() -> None:
    resolve = Resolver()
    cache = CachedEndpoints(resolve, ttl_seconds=30, clock=Clock())
    assert cache.resolve("dev", "orders", "r1") == ([], False)
    resolve.answers["r1"] = ["http://a"]
    assert cache.resolve("dev", "orders", "r1") == (["http://a"], False)
    cache.forget("dev", "orders", "r1")
    assert cache.resolve("dev", "orders", "r1") == (["http://a"], False)


def test_without_a_ttl_every_probe_resolves() -> None:
    resolve = Resolver(r1=["http://a"])
    cache = CachedEndpoints(resolve, ttl_seconds=0, clock=Clock())
    cache.resolve("dev", "orders", "r1")
    cache.resolve("dev", "orders", "r1")
    assert resolve.asked == ["r1", "r1"]


def refused_url() -> str:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{closed.getsockname()[1]}"


def test_a_replica_that_moved_is_probed_where_it_is_now_not_where_it_was() -> None:
    with serving({"/health": (200, {"Content-Type": "application/json"}, HEALTHY)}) as live:
        resolve = Resolver(r1=[refused_url()])
        probe = HttpHealthProbe(resolve, timeout_seconds=2, endpoint_ttl_seconds=300)
        gone = probe.probe("dev", "orders", "r1", "/health")
        assert gone.failure is ProbeFailure.CONNECTION_REFUSED  # resolved just now: the answer stands

        resolve.answers["r1"] = [live]  # the replica restarted elsewhere (a pod's new IP)
        moved = probe.probe("dev", "orders", "r1", "/health")
        assert moved.status is HealthStatus.HEALTHY, "the reused endpoint failed: resolved again and probed there"

        probe.probe("dev", "orders", "r1", "/health")
        assert resolve.asked == ["r1", "r1"], "a healthy answer keeps the endpoints for the ttl"


def test_a_failing_check_on_endpoints_that_did_not_move_is_the_answer() -> None:
    resolve = Resolver(r1=[refused_url()])
    probe = HttpHealthProbe(resolve, timeout_seconds=2, endpoint_ttl_seconds=300)
    probe.probe("dev", "orders", "r1", "/health")
    again = probe.probe("dev", "orders", "r1", "/health")
    assert again.failure is ProbeFailure.CONNECTION_REFUSED
    assert resolve.asked == ["r1", "r1"]
