"""The listings called as functions: GET /api/events (the audit query's parameters, every bad one a 400 naming
it; its bounds; a trace's events as before) and GET /api/deployments (paged, filtered by state)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.events import format_time
from controlplane.domain.paging import encode_token
from controlplane.ports import EventLog
from tests import product_app
from tests.builders import deployment
from tests.contracts.records.event_log import ALICE, TRACE, _event
from tests.principals import signed_in
from triggers.openapi import api_document


@pytest.fixture
def event_log() -> Iterator[EventLog]:
    wired = fake_ports()
    use_ports(wired)
    yield wired.store.event_log
    use_ports(None)


def get(params: dict[str, str], function: str = "list_events") -> tuple[int, dict]:
    handler = product_app.index().get(function).handler
    request = func.HttpRequest("GET", "http://localhost/api/", body=b"", params=params, headers=signed_in())
    response = handler(request)
    if asyncio.iscoroutine(response):
        response = asyncio.run(response)
    return response.status_code, json.loads(response.get_body())


def paths(body: dict) -> list[str]:
    return [error["path"] for error in body["errors"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-11-26T12:00:00"}, "until"),  # no offset
        ({"since": "2026-11-26T12:00:00Z", "until": "2026-11-26T11:00:00Z"}, "since"),
        ({"type": "RuntimeDeploymentCompleted,Nonsense"}, "type"),
        ({"continuation": "bm90LW91cnM"}, "continuation"),
        ({"continuation": encode_token("deployments", {"createdAt": "x", "id": "y"})}, "continuation"),
        ({"enviroment": "prod"}, "enviroment"),
        ({"service": "s" * 300}, "service"),
        ({"limit": ""}, "limit"),
        ({"limit": "\u00b2"}, "limit"),
        ({"since": ""}, "since"),
        ({"type": ""}, "type"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(event_log: EventLog, params: dict[str, str], field: str) -> None:
    status, body = get(params)
    assert status == 400 and body["title"] == "Invalid query"
    assert paths(body) == [field] and field in body["detail"]


def test_every_bad_parameter_is_named_at_once(event_log: EventLog) -> None:
    status, body = get({"limit": "0", "since": "soon", "type": "X"})
    assert status == 400 and sorted(paths(body)) == ["limit", "since", "type"]


def test_a_plus_sent_unescaped_gets_a_hint(event_log: EventLog) -> None:
    status, body = get({"since": "2026-11-26T12:00:00 01:00"})
    assert status == 400 and "%2B" in body["detail"]


def test_a_trace_is_answered_whole_and_not_combined_with_audit_filters(event_log: EventLog) -> None:
    now = datetime.now(UTC)
    event_log.append_events([_event("e-2", now), _event("e-1", now - timedelta(seconds=1))])
    assert get({"traceId": TRACE}) == (
        200,
        {"traceId": TRACE, "events": [e.to_dict() for e in event_log.events_for_trace(TRACE)]},
    )
    status, body = get({"traceId": TRACE, "limit": "5"})
    assert status == 400 and paths(body) == ["limit"]
    status, body = get({"traceId": "nope"})
    assert status == 400 and body["title"] == "Invalid traceId"


def test_the_audit_answers_newest_first_within_the_retention_and_pages(event_log: EventLog) -> None:
    now = datetime.now(UTC)
    event_log.append_events(
        [
            _event("too-old", now - timedelta(days=91)),
            _event("a", now - timedelta(hours=3), environment="prod", actor=ALICE),
            _event(
                "b", now - timedelta(hours=2), "RuntimeDeploymentCompleted", environment="prod", services={"x": "1"}
            ),
            _event("c", now - timedelta(hours=1), environment="dev"),
        ]
    )
    status, body = get({"since": format_time(now - timedelta(days=200))})
    assert status == 200 and [event["id"] for event in body["events"]] == ["c", "b", "a"]
    assert body["continuation"] is None
    assert body["since"] > format_time(now - timedelta(days=90, minutes=1))  # raised to the retention horizon

    status, first = get({"environment": "prod", "limit": "1"})
    assert [event["id"] for event in first["events"]] == ["b"] and first["continuation"]
    status, second = get({"environment": "prod", "limit": "1", "continuation": first["continuation"]})
    assert [event["id"] for event in second["events"]] == ["a"] and second["continuation"] is None

    status, body = get({"type": "RuntimeDeploymentStateChanged", "actor": ALICE["name"]})
    assert [event["id"] for event in body["events"]] == ["a"]
    status, body = get({"type": "RuntimeDeploymentCompleted,RuntimeDeploymentStateChanged", "service": "x"})
    assert [event["id"] for event in body["events"]] == ["b"]


@pytest.fixture
def stored_deployments() -> Iterator[None]:
    wired = fake_ports()
    now = datetime.now(UTC)
    for number, environment in enumerate(("dev", "prod", "dev", "dev")):
        wired.store.deployments.create_deployment(
            deployment(f"d{number}", environment, ("orders",), now.replace(minute=number))
        )
    started = wired.store.deployments.get_deployment("d2").advance(DeploymentState.PROVISIONING, now)
    wired.store.deployments.save_deployment(started)
    use_ports(wired)
    yield
    use_ports(None)


def test_deployments_page_newest_first_with_the_filters_sent_again(stored_deployments: None) -> None:
    status, first = get({"environment": "dev", "limit": "2"}, "list_deployments")
    assert status == 200 and [d["id"] for d in first["deployments"]] == ["d3", "d2"]
    status, rest = get({"environment": "dev", "limit": "2", "continuation": first["continuation"]}, "list_deployments")
    assert [d["id"] for d in rest["deployments"]] == ["d0"] and rest["continuation"] is None
    status, started = get({"state": "Provisioning"}, "list_deployments")
    assert [d["id"] for d in started["deployments"]] == ["d2"]
    assert len(get({}, "list_deployments")[1]["deployments"]) == 4  # old callers: the newest page


def test_deployments_page_by_top_and_list_summaries(stored_deployments: None) -> None:
    status, first = get({"service": "orders", "top": "3"}, "list_deployments")
    assert status == 200 and [d["id"] for d in first["deployments"]] == ["d3", "d2", "d1"]
    _, rest = get({"service": "orders", "top": "3", "continuation": first["continuation"]}, "list_deployments")
    assert [d["id"] for d in rest["deployments"]] == ["d0"] and rest["continuation"] is None
    listed = first["deployments"][0]
    assert "spec" not in listed["release"] and listed["release"]["metadata"]["name"]
    assert listed["createdAt"] == listed["transitions"][0]["at"] and set(listed["services"]) == {"orders"}
    registry = Registry().with_resource("urn:api", Resource(api_document(), DRAFT202012))
    described = Draft202012Validator({"$ref": "urn:api#/components/schemas/DeploymentList"}, registry=registry)
    assert not [error.message for error in described.iter_errors(first)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "Done"}, "state"),
        ({"state": ""}, "state"),
        ({"state": "Completed,Failed"}, "state"),
        ({"limit": "500"}, "limit"),
        ({"top": "0"}, "top"),
        ({"top": "2", "limit": "2"}, "top"),
        ({"continuation": "AAAA"}, "continuation"),
        ({"status": "Completed"}, "status"),
    ],
)
def test_a_bad_deployments_parameter_is_a_400_naming_it(
    stored_deployments: None, params: dict[str, str], field: str
) -> None:
    status, body = get(params, "list_deployments")
    assert status == 400 and paths(body) == [field]
