"""function_app.py loads as the Functions host loads it, and its HTTP triggers answer from the store."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import azure.functions as func

from controlplane.adapters.storage.stores import Stores
from controlplane.domain import deployment_events, gate_events
from controlplane.domain.access import Action
from controlplane.domain.deployment import DeploymentState, Transition
from controlplane.domain.deployment_events import deployment_envelope
from controlplane.services.deployment_detail import explanation_of
from funchost.functions import HTTP
from tests import product_app
from tests.builders import T0, deployment
from tests.principals import signed_in
from triggers.identity import authorized_action


def _call(name: str, url: str, params: dict[str, str] | None = None, route: dict[str, str] | None = None):
    entry = product_app.index().get(name)
    request = func.HttpRequest("GET", url, params=params or {}, route_params=route or {}, body=b"", headers=signed_in())
    response = entry.handler(**{entry.trigger_name: request})
    return asyncio.run(response) if asyncio.iscoroutine(response) else response


def test_every_http_route_is_anonymous_at_the_host_and_authorized_by_app_role() -> None:
    """The Functions host would demand a key of a signed-in browser at function level, so the routes are anonymous
    there and each one checks the caller's app roles itself."""
    routes = {entry.name: entry for entry in product_app.index() if entry.trigger_type == HTTP}
    hosted = {name: entry.trigger.get("authLevel") for name, entry in routes.items()}
    assert hosted == dict.fromkeys(routes, "ANONYMOUS")
    actions = {name: authorized_action(entry.handler) for name, entry in routes.items()}
    assert [name for name, action in actions.items() if action is None] == []
    mutating = {name for name, entry in routes.items() if entry.trigger.get("methods") != ["GET"]}
    assert {name for name, action in actions.items() if action is Action.READ} == set(routes) - mutating
    assert routes["approve_deployment"].trigger.get("route") == "deployments/{deployment_id}/approve"
    assert actions["approve_deployment"] is Action.APPROVE and actions["create_deployment"] is Action.DEPLOY


def test_the_app_registers_the_deployment_reconciler_timer_on_its_setting() -> None:
    timer = product_app.index().get("deployment_reconciler_timer")
    assert timer.trigger["schedule"] == "%CONTROLPLANE_RECONCILER_SCHEDULE%"


def test_the_deployments_listing_runs_on_the_workers_event_loop() -> None:
    """A coroutine, so the worker awaits it on its event loop and every request under way shares the listing's
    version read (``listing_cache``); as a sync function it would wait for one of the pool's six threads."""
    assert product_app.index().get("list_deployments").is_async


def test_listing_filters_by_environment(store: Stores) -> None:
    store.deployments.create_deployment(deployment("d1", "dev"))
    store.deployments.create_deployment(deployment("d2", "prod"))
    response = _call("list_deployments", "/api/deployments", {"environment": "prod"})
    assert response.status_code == 200
    assert [d["id"] for d in json.loads(response.get_body())["deployments"]] == ["d2"]


def test_a_deployment_is_returned_with_state_history_and_trace(store: Stores) -> None:
    store.deployments.create_deployment(deployment("d1"))
    body = json.loads(_call("get_deployment", "/api/deployments/d1", route={"deployment_id": "d1"}).get_body())
    assert body["state"] == "Requested"
    assert body["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert body["transitions"][0]["to"] == "Requested"


def test_an_unknown_deployment_is_a_404_problem(store: Stores) -> None:
    response = _call("get_deployment", "/api/deployments/nope", route={"deployment_id": "nope"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "nope" in json.loads(response.get_body())["detail"]


def test_a_deployment_carries_the_explanation_of_its_gates_from_its_trace(store: Stores) -> None:
    record = store.deployments.create_deployment(deployment("d1", services=("api",)))
    where = gate_events.gate_of("api", "api-2", 1, "canary step 1: 20% traffic on 1 replicas")
    failed = gate_events.health_gate_completed(where, "failed", 0, 3, "3 Unhealthy probes in a row")
    events = [
        deployment_envelope(record, event, event_id=f"e-{n}", source="/tests", time=T0 + timedelta(seconds=n))
        for n, event in enumerate([deployment_events.requested(record.release, None), failed], start=1)
    ]
    store.event_log.append_events(events)
    body = json.loads(_call("get_deployment", "/api/deployments/d1", route={"deployment_id": "d1"}).get_body())
    explanation = body["explanation"]
    assert (explanation["deploymentId"], explanation["complete"], explanation["events"]) == ("d1", True, 2)
    [gate] = explanation["services"][0]["gates"]
    assert (gate["number"], gate["verdict"], gate["why"]) == (1, "failed", "health failed: 3 Unhealthy probes in a row")


def test_an_explanation_reads_a_bounded_number_of_events_and_says_when_there_were_more(store: Stores) -> None:
    record = store.deployments.create_deployment(deployment("d1"))
    changed = deployment_events.state_changed(Transition(DeploymentState.REQUESTED, DeploymentState.PROVISIONING, T0))
    store.event_log.append_events(
        [
            deployment_envelope(record, changed, event_id=f"e-{n}", source="/tests", time=T0 + timedelta(seconds=n))
            for n in range(3)
        ]
    )
    assert explanation_of(store.event_log, record, limit=3).complete
    capped = explanation_of(store.event_log, record, limit=2)
    assert (capped.complete, capped.events) == (False, 2)
