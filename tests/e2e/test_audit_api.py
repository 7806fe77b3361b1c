"""The audit over HTTP on the local host: two deployments in two environments, then GET /api/events filtered by
type, environment, service and time and paged through with its continuation, and GET /api/deployments paged and
filtered by state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from controlplane.domain.events import format_time, parse_time
from tests.builders import release_document
from tests.e2e.host_process import HostProcess
from tests.e2e.scenario import events_when_ended, wait_terminal

pytestmark = pytest.mark.azurite
GATE = {"path": "/health", "intervalSeconds": 1, "successThreshold": 2, "failureThreshold": 2}
DEPLOYMENT_TYPES = "RuntimeDeploymentRequested,RuntimeDeploymentStateChanged,RuntimeDeploymentCompleted"


def _release(environment: str, service: str) -> dict[str, Any]:
    document = release_document(environment, (service,), "1.0.0")
    document["spec"]["healthGate"] = dict(GATE)
    document["spec"]["services"][0]["replicas"] = 1
    return document


def _get(host: HostProcess, route: str, **params: str) -> dict[str, Any]:
    status, body = host.request("GET", f"/api/{route}?{urlencode(params)}")
    assert status == 200, body
    return body


def _every_page(host: HostProcess, route: str, key: str, **params: str) -> tuple[list[dict[str, Any]], int]:
    """Every item the listing answers, following the continuations; and how many pages that took."""
    items, pages, continuation = [], 0, None
    while True:
        page = _get(host, route, **params, **({"continuation": continuation} if continuation else {}))
        items.extend(page[key])
        pages += 1
        continuation = page["continuation"]
        if continuation is None:
            return items, pages


@pytest.fixture(scope="module")
def deployed(product: HostProcess) -> dict[str, dict[str, Any]]:
    """Two deployments that ran at once, each in its own environment; by environment, with their trace's events."""
    accepted = {}
    for environment, service in (("audita", "orders"), ("auditb", "payments")):
        status, body = product.request("POST", "/api/deployments", _release(environment, service))
        assert status == 202, body
        accepted[environment] = body
    for body in accepted.values():
        assert wait_terminal(product, body["deploymentId"]) == "Completed"
        body["events"] = events_when_ended(product, body["traceId"])
    return accepted


def test_the_audit_filters_by_type_newest_first(product: HostProcess, deployed: dict[str, dict[str, Any]]) -> None:
    events = _get(product, "events", type="RuntimeDeploymentCompleted")["events"]
    assert {event["data"]["deploymentId"] for event in events} == {d["deploymentId"] for d in deployed.values()}
    times = [parse_time(event["time"]) for event in events]
    assert times == sorted(times, reverse=True)


def test_the_audit_pages_through_an_environment_and_a_service(
    product: HostProcess, deployed: dict[str, dict[str, Any]]
) -> None:
    trace = [event for event in deployed["audita"]["events"] if event["type"] in DEPLOYMENT_TYPES.split(",")]
    paged, pages = _every_page(product, "events", "events", environment="audita", type=DEPLOYMENT_TYPES, limit="2")
    assert [event["id"] for event in paged] == [event["id"] for event in reversed(trace)]
    assert pages == (len(trace) + 1) // 2
    by_service = _get(product, "events", service="orders", type=DEPLOYMENT_TYPES, limit="200")["events"]
    assert [event["id"] for event in by_service] == [event["id"] for event in paged]


def test_the_audit_answers_a_time_range(product: HostProcess, deployed: dict[str, dict[str, Any]]) -> None:
    [completed] = [event for event in deployed["auditb"]["events"] if event["type"] == "RuntimeDeploymentCompleted"]
    at = parse_time(completed["time"])
    window = {"since": format_time(at), "until": format_time(at + timedelta(microseconds=1))}
    assert [event["id"] for event in _get(product, "events", **window)["events"]] == [completed["id"]]
    assert _get(product, "events", actor="nobody@contoso.com")["events"] == []


def test_bad_audit_parameters_are_400_problems(product: HostProcess) -> None:
    for query, field in (("limit=0", "limit"), ("continuation=bm9wZQ", "continuation"), ("type=Nope", "type")):
        status, body = product.request("GET", f"/api/events?{query}")
        assert status == 400 and [error["path"] for error in body["errors"]] == [field], body


def test_deployments_page_newest_first_and_filter_by_state(
    product: HostProcess, deployed: dict[str, dict[str, Any]]
) -> None:
    listed, pages = _every_page(product, "deployments", "deployments", limit="1")
    ids = [deployment["id"] for deployment in listed]
    assert set(ids) >= {d["deploymentId"] for d in deployed.values()} and pages == len(ids)
    created = [deployment["transitions"][0]["at"] for deployment in listed]
    assert created == sorted(created, reverse=True)
    completed = _get(product, "deployments", environment="audita", state="Completed")["deployments"]
    assert [deployment["id"] for deployment in completed] == [deployed["audita"]["deploymentId"]]
    assert _get(product, "deployments", environment="audita", state="Failed") == {
        "deployments": [],
        "continuation": None,
    }
