"""What POST /api/deployments refuses and how it holds under concurrency, over real HTTP against one local host:
Idempotency-Key rounds, body limits, a responsive host while heavy bodies are parsed, credentials in plain config."""

from __future__ import annotations

import json
import select
import socket
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from controlplane.domain.idempotency import keyed_deployment_id
from controlplane.domain.manifest import MAX_DOCUMENT_BYTES, MAX_NESTING
from tests.e2e.host_process import HostProcess
from tests.e2e.idempotency_rounds import get_status, idempotency_rounds, post, probe_release


def deployments_of(product: HostProcess, environment: str) -> list[dict[str, Any]]:
    code, body = product.request("GET", f"/api/deployments?environment={environment}")
    assert code == 200, body
    found: list[dict[str, Any]] = body["deployments"]
    return found


def test_concurrent_requests_with_one_key_answer_one_deployment_that_exists(product: HostProcess) -> None:
    report = idempotency_rounds(product, rounds=20, callers=50)
    assert report.violations == [], report.to_dict()
    assert report.rounds == 22 and report.requests == 22 * 50
    assert report.statuses[202] == 20 + 1 + 5  # one per identical round, the differing round, each mixed key


@pytest.mark.parametrize(
    ("key", "reason"),
    [("k" * 2000, "at most 255 characters (got 2000)"), ("", "printable ASCII"), ("tab\there", "printable ASCII")],
)
def test_a_bad_idempotency_key_is_refused_with_400_naming_the_header(
    product: HostProcess, key: str, reason: str
) -> None:
    status, problem = post(product, json.dumps(probe_release("badkey")).encode(), {"Idempotency-Key": key})
    assert status == 400, problem
    assert problem["errors"][0]["path"] == "Idempotency-Key" and reason in problem["errors"][0]["reason"]
    assert deployments_of(product, "badkey") == []


def _yaml_release(environment: str) -> bytes:
    return yaml.safe_dump(probe_release(environment)).encode()


def test_bodies_are_refused_by_size_media_type_nesting_and_aliases(product: HostProcess) -> None:
    cases: list[tuple[bytes, str, int, str]] = [
        (b"{" + b" " * MAX_DOCUMENT_BYTES + b"}", "application/json", 413, "at most 262144"),
        (json.dumps(probe_release("limits")).encode(), "text/plain", 415, "application/yaml"),
        (_yaml_release("limits"), "application/json", 400, "JSON syntax error"),
        (b"a: " + b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1), "application/yaml", 400, "nests deeper"),
        (b'{"a": ' + b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1) + b"}", "", 400, "nests deeper"),
        (b"a: &a [1]\nb: [" + b"*a, " * 101 + b"]\n", "application/x-yaml", 400, "more than 100 YAML aliases"),
    ]
    for body, content_type, status, detail in cases:
        code, problem = post(product, body, {"Content-Type": content_type} if content_type else {})
        assert code == status, (content_type, problem)
        assert detail in json.dumps(problem), problem
    assert deployments_of(product, "limits") == []
    for content_type in ("application/yaml", "text/yaml; charset=utf-8"):
        code, accepted = post(product, _yaml_release(f"yaml{len(content_type)}"), {"Content-Type": content_type})
        assert code == 202, accepted


def _send_raw(url: str, token: str, body: bytes) -> socket.socket:
    """A POST written to the product in full; its answer left unread on the returned socket."""
    parts = urlparse(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=120)
    head = (
        f"POST /api/deployments HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/yaml\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    connection.sendall(head.encode() + body)
    return connection


def test_a_cheap_route_answers_while_heavy_bodies_are_being_parsed(product: HostProcess) -> None:
    """Four bodies that each cost the parser most of a second (49,000 YAML nodes, refused as an unknown field
    only after parsing): the list route answers while at least one of them has not been answered yet."""
    heavy = b"x: [" + b"1, " * 49_000 + b"]\n"
    connections = [_send_raw(product.base_url, product.caller_token or "", heavy) for _ in range(4)]
    try:
        assert get_status(product, "/api/deployments?service=x") == 200
        readable, _, _ = select.select(connections, [], [], 0)
        assert len(readable) < len(connections), "every heavy body was answered before the cheap route"
        for connection in connections:
            assert connection.recv(64).startswith(b"HTTP/1.1 422"), "refused as an invalid manifest"
    finally:
        for connection in connections:
            connection.close()


def test_a_credential_in_plain_configuration_is_refused_and_starts_nothing(product: HostProcess) -> None:
    release = probe_release("leaky")
    account_key = "AccountKey=bWFkZS11cC1rZXk="
    release["spec"]["services"][0]["configuration"] = {"STORAGE": f"AccountName=a;{account_key}", "LD_PRELOAD": "x"}
    status, problem = post(product, json.dumps(release).encode(), {"Idempotency-Key": "leaky-1"})
    assert status == 422, problem
    assert {e["path"] for e in problem["errors"]} == {
        "spec.services[0].configuration.STORAGE",
        "spec.services[0].configuration.LD_PRELOAD",
    }
    assert "SecretBinding" in json.dumps(problem) and account_key not in json.dumps(problem)
    assert deployments_of(product, "leaky") == []
    keyed = keyed_deployment_id("leaky-1", "leaky", ["orders"])
    assert get_status(product, f"/api/deployments/{keyed}") == 404
