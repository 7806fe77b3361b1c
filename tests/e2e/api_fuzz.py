"""The HTTP API fuzzed against its own OpenAPI document: schemathesis generates requests for every operation of the
document the host serves (GET /api/openapi.json), valid ones and, where an operation takes query, header or body
input, invalid ones; each is sent over real HTTP as a caller holding every app role and its answer checked against the
document. Bounded: a fixed number of examples per operation and mode, derandomized (the same requests every run),
no shrinking, a timeout per request.

A finding is any 5xx, any status, content type, header or body the document does not describe for that
operation, any invalid request answered as if it were valid, any answer that shows a traceback or a server path,
and any request that gets no answer within the timeout. ``fuzz_api`` returns the counts for
``bench/reliability.py`` (``fuzz_requests``, ``fuzz_5xx``) and the findings for the test to show.
"""

from __future__ import annotations

import copy
import functools
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import hypothesis
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from controlplane.config import APP_ROOT

MAX_EXAMPLES = 8  # per operation and generation mode
REQUEST_TIMEOUT = 15.0  # seconds without an answer that make a request a hang
# 5xx, every way an answer can break the document, and an invalid request that is not refused. Not: schemathesis's
# checks of behaviour the document does not promise (405 for another method: the Functions host answers 404
# there, as Azure does).
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
)
# What no answer may show a client: a traceback, or a path of the server's (the app's folder, the interpreter's).
LEAK_MARKERS = ("Traceback (most recent call last)", str(APP_ROOT), sys.prefix, sys.base_prefix)
SETTLE_POLLS = 150  # 0.2 s apart: how long the first seed deployment may take to end
TERMINAL = ("Completed", "RolledBack", "Failed")


class FuzzResult(NamedTuple):
    requests: int
    server_errors: int  # answers with a 5xx status
    failures: list[str]  # one line per finding: operation, mode, status, what broke, the request as curl


def fuzz_api(
    base_url: str, headers: dict[str, str], max_examples: int = MAX_EXAMPLES, request_timeout: float = REQUEST_TIMEOUT
) -> FuzzResult:
    """Fuzz every served operation of the host at ``base_url``, as the caller ``headers`` authenticate."""
    session = requests.Session()
    served = session.get(f"{base_url}/api/openapi.json", headers=headers, timeout=request_timeout)
    served.raise_for_status()
    document = served.json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=base_url)
    schema.config.generation.update(with_security_parameters=False)  # the credentials are ours, not generated
    counts = {"requests": 0, "server_errors": 0}
    failures: list[str] = []

    def send(case: Case, mode: str) -> Response | None:
        counts["requests"] += 1
        label = f"{case.operation.label} [{mode}]"
        try:
            response = case.call(session=session, headers=headers, timeout=request_timeout)
        except requests.Timeout:
            failures.append(f"{label}: no answer within {request_timeout} s: {case.as_curl_command(headers)}")
            return None
        except requests.ConnectionError as error:
            failures.append(f"{label}: connection failed ({error}): {case.as_curl_command(headers)}")
            return None
        if response.status_code >= 500:
            counts["server_errors"] += 1
        leaked = [marker for marker in LEAK_MARKERS if marker in response.text]
        if leaked:
            shown = f"{label} -> {response.status_code}: the body shows {leaked}"
            failures.append(f"{shown}: {case.as_curl_command(headers)}")
        try:
            case.validate_response(response, checks=list(CHECKS), headers=headers)
        except FailureGroup as group:
            broken = "; ".join(f"{failure.title}: {failure.message}" for failure in group.exceptions)
            failures.append(f"{label} -> {response.status_code}: {broken}: {case.as_curl_command(headers)}")
        return response

    # Real deployments first, so that listings hold real records and the operations on a deployment are also
    # fuzzed on ones that exist (a Completed one; a canary waiting for approval), not only on unknown ids.
    create = schema["/api/deployments"]["POST"]
    bound: list[dict[str, str]] = [{}]
    for number, release in enumerate(seed_releases()):
        if number:  # the service's previous deployment must have ended: it holds the service until then
            _wait_until_ended(session, f"{base_url}/api/deployments/{bound[-1]['deployment_id']}", headers)
        created = send(create.Case(body=release, media_type="application/json"), "seed")
        if created is None or created.status_code != 202:
            break
        bound.append({"deployment_id": created.json()["deploymentId"]})
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the document: {result.err()}")
            continue
        operation = result.ok()
        described = document["paths"][operation.path][operation.method.lower()]
        for fixed in bound if "{deployment_id}" in operation.path else [{}]:
            for mode in _modes(described):
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed or None)
                _run(strategy, functools.partial(send, mode=mode.value), max_examples)
    return FuzzResult(counts["requests"], counts["server_errors"], failures)


def seed_releases() -> list[dict[str, Any]]:
    """The first example release (one service of it, a quick health gate), then the same service again as a canary
    that waits for approval at half the traffic, so that approve and abort meet a running deployment."""
    release = yaml.safe_load((APP_ROOT / "examples" / "releases" / "v1-rolling.yaml").read_text())
    release["spec"]["environment"]["name"] = "fuzz"
    release["spec"]["services"] = release["spec"]["services"][:1]
    release["spec"]["healthGate"].update(intervalSeconds=1, successThreshold=2, failureThreshold=2)
    canary = copy.deepcopy(release)
    canary["metadata"]["name"] = "orders-v2"
    canary["spec"]["services"][0]["image"] = "example.azurecr.io/orders:2.0.0"
    canary["spec"]["strategy"] = {"type": "Canary", "steps": [{"weight": 50, "pause": {"untilApproved": True}}]}
    return [release, canary]


def _wait_until_ended(session: requests.Session, url: str, headers: dict[str, str]) -> None:
    """Until the deployment at ``url`` ended (bounded: SETTLE_POLLS polls)."""
    for _ in range(SETTLE_POLLS):
        if session.get(url, headers=headers, timeout=REQUEST_TIMEOUT).json()["state"] in TERMINAL:
            return
        time.sleep(0.2)


def _modes(described: dict[str, Any]) -> tuple[GenerationMode, ...]:
    """Valid requests always; invalid ones where there is input to make invalid (a free-form path segment has
    no invalid value)."""
    inputs = [parameter["in"] for parameter in described.get("parameters", [])]
    negatable = "requestBody" in described or "query" in inputs or "header" in inputs
    return (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable else (GenerationMode.POSITIVE,)


def _run(strategy: Any, send: Callable[[Case], object], max_examples: int) -> None:
    """Send ``max_examples`` cases drawn from ``strategy``: generated only (findings are collected, never raised,
    so there is nothing to shrink), the same ones every run, no example database."""

    @hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: Case) -> None:
        send(case)

    run()
