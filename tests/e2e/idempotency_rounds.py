"""Rounds of concurrent ``POST /api/deployments`` with Idempotency-Keys against a running host, over real HTTP.

Used by tests/e2e/test_request_limits.py and by bench/reliability.py. Each round fires its requests at once
(a barrier releases every caller together) and checks what the API promises for one key:

- identical requests: exactly one 202, every other answer a 200 naming the same deployment;
- the same key with two different manifests: one 202, 200 for the winner's manifest, 422 for the other;
- several keys (one service each) at once: per key, one 202 and 200s naming its deployment, ids distinct;
- every deployment id any answer named answers 200 on ``GET /api/deployments/{id}``.

Releases use an image the local image catalog does not know, so each deployment fails at rollout within
moments and no workload process starts: the rounds measure acceptance, not rollouts.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

PROBE_IMAGE = "example.azurecr.io/idempotency-probe"


class Host(Protocol):
    base_url: str

    def auth_headers(self) -> dict[str, str]: ...


@dataclass
class RoundsReport:
    """What the rounds saw; ``violations`` is empty when every promise held."""

    rounds: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    dangling_ids: list[str] = field(default_factory=list)  # named by an answer, 404 on GET
    violations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "requests": self.requests,
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
            "dangling_ids": self.dangling_ids,
            "violations": self.violations,
        }


def probe_release(environment: str, services: tuple[str, ...] = ("orders",), tag: str = "1.0.0") -> dict[str, Any]:
    """A release whose rollout fails fast on the local host (its image is not in the image catalog)."""
    return {
        "apiVersion": "controlplane.azure/v1",
        "kind": "Release",
        "metadata": {"name": f"{environment}-probe"},
        "spec": {
            "environment": {"name": environment, "tier": "nonprod", "compute": "local"},
            "strategy": {"type": "RollingHealthGated"},
            "services": [{"name": name, "image": f"{PROBE_IMAGE}:{tag}", "replicas": 1} for name in services],
        },
    }


def post(host: Host, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """One POST /api/deployments; the status and the JSON answer."""
    request = urllib.request.Request(f"{host.base_url}/api/deployments", data=body, method="POST")
    for name, value in {**host.auth_headers(), "Content-Type": "application/json", **headers}.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def get_status(host: Host, path: str) -> int:
    request = urllib.request.Request(f"{host.base_url}{path}", headers=host.auth_headers())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


Call = tuple[dict[str, Any], str]  # a release and its Idempotency-Key
Answer = tuple[Call, int, dict[str, Any]]


def fire(host: Host, calls: list[Call]) -> list[Answer]:
    """Send every call at once (one thread each, released together); the answers in call order."""
    start = threading.Barrier(len(calls))

    def send(call: Call) -> Answer:
        release, key = call
        body = json.dumps(release).encode()
        start.wait()
        status, answer = post(host, body, {"Idempotency-Key": key})
        return call, status, answer

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


def _check_key(key: str, answers: list[Answer], allowed: set[int], report: RoundsReport) -> str | None:
    """One key's answers: only ``allowed`` statuses, exactly one 202, every 2xx naming one id; that id."""
    statuses = Counter(status for _, status, _ in answers)
    ids = {answer["deploymentId"] for _, status, answer in answers if status in (200, 202)}
    if set(statuses) - allowed:
        report.violations.append(f"key {key}: unexpected answers {dict(statuses)}")
    if statuses[202] != 1 or len(ids) != 1:
        report.violations.append(f"key {key}: {statuses[202]} created, ids {sorted(ids)}")
    return next(iter(ids)) if len(ids) == 1 else None


def _record(report: RoundsReport, answers: list[Answer]) -> None:
    report.rounds += 1
    report.requests += len(answers)
    report.statuses.update(status for _, status, _ in answers)


def identical_round(host: Host, environment: str, callers: int, report: RoundsReport) -> None:
    key = f"idem-{uuid.uuid4().hex}"
    answers = fire(host, [(probe_release(environment), key)] * callers)
    _record(report, answers)
    _check_key(key, answers, {200, 202}, report)
    _check_exist(host, answers, report)


def differing_round(host: Host, environment: str, callers: int, report: RoundsReport) -> None:
    """Half the callers send tag 1.0.0, half 2.0.0, all with one key: the loser's manifest gets 422."""
    key = f"idem-{uuid.uuid4().hex}"
    calls = [(probe_release(environment, tag=f"{1 + n % 2}.0.0"), key) for n in range(callers)]
    answers = fire(host, calls)
    _record(report, answers)
    winner = next((call[0] for call, status, _ in answers if status == 202), None)
    for call, status, answer in answers:
        expected = (200, 202) if call[0] == winner else (422,)
        if status not in expected:
            report.violations.append(f"key {key}: {status} (expected {expected}) for tag {call[0]}: {answer}")
    _check_key(key, [a for a in answers if a[1] != 422], {200, 202}, report)
    _check_exist(host, answers, report)


def mixed_round(host: Host, environment: str, callers: int, report: RoundsReport, keys: int = 5) -> None:
    """``keys`` keys, each for a service of its own, interleaved: no key sees another key's deployment."""
    names = [f"svc{n}" for n in range(keys)]
    key_of = {name: f"idem-{uuid.uuid4().hex}" for name in names}
    calls = [(probe_release(environment, (names[n % keys],)), key_of[names[n % keys]]) for n in range(callers)]
    answers = fire(host, calls)
    _record(report, answers)
    ids = [_check_key(key, [a for a in answers if a[0][1] == key], {200, 202}, report) for key in key_of.values()]
    if len(set(ids)) != keys:
        report.violations.append(f"mixed keys shared deployments: {ids}")
    _check_exist(host, answers, report)


def _check_exist(host: Host, answers: list[Answer], report: RoundsReport) -> None:
    for deployment_id in sorted({answer["deploymentId"] for _, status, answer in answers if status in (200, 202)}):
        if get_status(host, f"/api/deployments/{deployment_id}") != 200:
            report.dangling_ids.append(deployment_id)
            report.violations.append(f"{deployment_id} was answered but GET says it does not exist")


def idempotency_rounds(host: Host, rounds: int = 20, callers: int = 50, prefix: str | None = None) -> RoundsReport:
    """``rounds`` rounds of ``callers`` identical concurrent requests, then one differing and one mixed round;
    each round in an environment of its own so that no round waits for another's deployment."""
    prefix = prefix or f"i{uuid.uuid4().hex[:6]}"
    report = RoundsReport()
    steps: list[Callable[[Host, str, int, RoundsReport], None]] = [identical_round] * rounds
    for number, step in enumerate([*steps, differing_round, mixed_round]):
        step(host, f"{prefix}-{number}", callers, report)
    return report
