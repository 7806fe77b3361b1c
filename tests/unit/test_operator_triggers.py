"""The operator routes called as functions: the actor is the signed-in caller (never a field), a reason is
required and recorded, four-eyes refuses the requester's own prod approval, and the answers are as the OpenAPI
document describes them."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from controlplane.bootstrap import Ports, use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.domain.access import Actor
from controlplane.domain.deployment import Origin
from controlplane.domain.findings import FindingStatus
from controlplane.domain.manifest import parse_release
from controlplane.services import deployments
from controlplane.testing.fakes import RecordingEventBus
from tests import product_app
from tests.builders import finding, release_document
from tests.principals import signed_in
from triggers.identity import actor_of as identity_of
from triggers.openapi import api_document

DOCUMENT = Registry().with_resource("urn:api", Resource(api_document(), DRAFT202012))
ANA = ("ana@contoso.com", ("Deployer", "Approver"))
BEN = ("ben@contoso.com", ("Approver",))
OTTO = ("otto@contoso.com", ("Operator",))


@dataclass
class FakeDurableClient:
    """What the routes ask of the Durable client: raised events and started instances are recorded."""

    raised: list[tuple[str, str, Any]] = field(default_factory=list)
    started: list[tuple[str, str | None]] = field(default_factory=list)

    async def raise_event(self, instance_id: str, name: str, data: Any) -> None:
        self.raised.append((instance_id, name, data))

    async def start_new(self, orchestrator: str, instance_id: str | None = None, data: Any = None) -> str:
        self.started.append((orchestrator, instance_id))
        return instance_id or "new"

    async def get_status(self, instance_id: str, **_: Any) -> Any:
        return SimpleNamespace(runtime_status=None, instance_id=None)


@pytest.fixture
def wired() -> Iterator[Ports]:
    ports = fake_ports()
    use_ports(ports)
    yield ports
    use_ports(None)


def call(
    function: str, route: str, who: tuple[str, tuple[str, ...]], body: object = None, **params: str
) -> tuple[int, dict[str, Any], FakeDurableClient]:
    handler = product_app.index().get(function).handler
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    parts = route.split("/")
    key = {"deployments": "deployment_id", "drift": "finding_id"}.get(parts[0], "")
    route_params = {key: parts[-2]} if len(parts) > 2 else {}
    request = func.HttpRequest(
        "POST",
        f"http://localhost/api/{route}",
        body=raw,
        params=params,
        headers=signed_in(who[0], who[1]),
        route_params=route_params,
    )
    client = FakeDurableClient()
    if "client" in inspect.signature(handler).parameters:  # under the SDK's wrapper that builds the client
        answer = handler.__wrapped__(req=request, client=client)
    else:
        answer = handler(request)
    response = asyncio.run(answer) if inspect.isawaitable(answer) else answer
    return response.status_code, json.loads(response.get_body() or b"{}"), client


def described(schema: str, body: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator({"$ref": f"urn:api#/components/schemas/{schema}"}, registry=DOCUMENT)
    return [error.message for error in validator.iter_errors(body)]


def actor_of(who: tuple[str, tuple[str, ...]]) -> dict[str, Any]:
    headers = signed_in(who[0], who[1])
    return identity_of(func.HttpRequest("GET", "http://localhost/", body=b"", headers=headers)).to_dict()


def prod_deployment(wired: Ports, requester: tuple[str, tuple[str, ...]], four_eyes: bool = True) -> str:
    document = copy.deepcopy(release_document("prod"))
    document["spec"]["environment"]["tier"] = "prod"
    origin = Origin(Actor.from_dict(actor_of(requester)), four_eyes=four_eyes)
    store = wired.store
    accepted = deployments.accept(
        store.deployments, store.claims, parse_release(document), datetime.now(UTC), None, None, origin
    )
    return accepted.deployment.id


def test_a_deployment_records_the_caller_who_requested_it_and_whether_four_eyes_holds(wired: Ports) -> None:
    document = copy.deepcopy(release_document("prod"))
    document["spec"]["environment"]["tier"] = "prod"
    status, accepted, client = call("create_deployment", "deployments", ANA, document)
    assert status == 202 and client.started
    record = wired.store.deployments.get_deployment(accepted["deploymentId"]).to_dict()
    assert record["requestedBy"] == actor_of(ANA) and record["fourEyes"] is True
    assert record["transitions"][0]["actor"] == actor_of(ANA) and not described("Deployment", record)
    status, accepted, _ = call("create_deployment", "deployments", ANA, release_document("dev", ("billing",)))
    assert status == 202 and wired.store.deployments.get_deployment(accepted["deploymentId"]).four_eyes is False


def test_the_requester_may_not_approve_their_own_prod_deployment_someone_else_may(wired: Ports) -> None:
    deployment_id = prod_deployment(wired, ANA)
    route = f"deployments/{deployment_id}/approve"

    status, refused, client = call("approve_deployment", route, ANA, {"reason": "LGTM"})
    assert status == 403 and refused["rule"] == "four-eyes" and refused["setting"] == "CONTROLPLANE_FOUR_EYES"
    assert "ana@contoso.com requested this production deployment" in refused["detail"] and client.raised == []

    status, answer, client = call("approve_deployment", route, BEN, {"reason": "reviewed CHG-7"})
    assert status == 202 and not described("SignalAccepted", answer)
    assert answer["actor"] == actor_of(BEN) and answer["reason"] == "reviewed CHG-7"
    assert client.raised == [(deployment_id, "approve", {"actor": actor_of(BEN), "reason": "reviewed CHG-7"})]


def test_without_four_eyes_the_requester_may_approve(wired: Ports) -> None:
    deployment_id = prod_deployment(wired, ANA, four_eyes=False)
    status, _, client = call("approve_deployment", f"deployments/{deployment_id}/approve", ANA, reason="solo")
    assert status == 202 and client.raised[0][2]["actor"] == actor_of(ANA)


@pytest.mark.parametrize(
    ("body", "params", "paths"),
    [
        ({}, {}, ["reason"]),
        ({"reason": "  "}, {}, ["reason"]),
        ({"reason": "x" * 1001}, {}, ["reason"]),
        ({"reason": "two\nlines"}, {}, ["reason"]),
        ({"by": "someone-else", "reason": "x"}, {}, ["by"]),
        ({}, {"by": "someone-else", "reason": "x"}, ["by"]),
        ({"reason": "x", "who": "me"}, {}, ["who"]),
        ({"by": None, "reason": "x"}, {"reason": "y"}, ["by"]),  # null is no string: the fuzz found it accepted
        ({"reason": None}, {"reason": "y"}, ["reason"]),
        ({"reason": 42}, {}, ["reason"]),
        ("a string", {}, [""]),
        (b"{not json", {}, [""]),
    ],
)
def test_a_bad_reason_or_a_by_that_is_not_the_caller_is_a_400_naming_the_field(
    wired: Ports, body: object, params: dict[str, str], paths: list[str]
) -> None:
    deployment_id = prod_deployment(wired, ANA)
    status, refused, client = call("abort_deployment", f"deployments/{deployment_id}/abort", BEN, body, **params)
    assert status == 400 and [error["path"] for error in refused["errors"]] == paths and client.raised == []


def test_by_naming_the_caller_is_accepted_and_changes_nothing_and_the_query_may_carry_the_reason(
    wired: Ports,
) -> None:
    deployment_id = prod_deployment(wired, ANA)
    route = f"deployments/{deployment_id}/abort"
    status, answer, _ = call("abort_deployment", route, BEN, {"by": BEN[0], "reason": "wrong build"})
    assert status == 202 and answer["actor"] == actor_of(BEN)
    status, answer, _ = call("abort_deployment", route, BEN, None, reason="from the query")
    assert status == 202 and answer["reason"] == "from the query"
    assert call("abort_deployment", route, BEN, b"x" * (16 * 1024 + 1))[0] == 413


def test_a_reader_may_not_approve_or_decide(wired: Ports) -> None:
    deployment_id = prod_deployment(wired, ANA)
    reader = ("rita@contoso.com", ("Reader",))
    status, refused, _ = call("approve_deployment", f"deployments/{deployment_id}/approve", reader, {"reason": "x"})
    assert status == 403 and refused["requiredRoles"] == ["Approver"]
    status, _, _ = call("dismiss_finding", "drift/findings/f-1/dismiss", reader, {"reason": "x"})
    assert status == 403


def test_a_finding_decision_records_who_and_why_and_is_emitted(wired: Ports) -> None:
    wired.store.findings.create_finding(replace(finding(status=FindingStatus.OPEN), traceid="c" * 32))
    status, refused, _ = call("dismiss_finding", "drift/findings/f-1/dismiss", OTTO)
    assert status == 400 and refused["errors"][0]["path"] == "reason"
    status, decided, _ = call("dismiss_finding", "drift/findings/f-1/dismiss", OTTO, {"reason": "accepted hotfix"})
    assert status == 200 and not described("Finding", decided)
    assert decided["decidedBy"] == actor_of(OTTO) and decided["decisionReason"] == "accepted hotfix"
    bus = wired.events
    assert isinstance(bus, RecordingEventBus)
    [event] = [e for e in bus.published if e.type == "RuntimeDriftFindingDecided"]
    assert event.data["actor"] == actor_of(OTTO) and event.data["decision"] == "dismiss"


def test_a_drift_run_on_demand_records_who_started_it(wired: Ports) -> None:
    status, answer, client = call("run_drift", "drift/runs", OTTO, {"reason": "after the hotfix"})
    assert status == 202 and client.started and not described("DriftRunAccepted", answer)
    bus = wired.events
    assert isinstance(bus, RecordingEventBus)
    [event] = [e for e in bus.published if e.type == "RuntimeDriftRunRequested"]
    assert event.traceid == answer["traceId"]
    assert event.data == {"instanceId": answer["instanceId"], "actor": actor_of(OTTO), "reason": "after the hotfix"}
