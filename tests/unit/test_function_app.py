"""function_app.py loads as the Functions host loads it, and its HTTP triggers answer from the store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import azure.functions as func
import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.testing.memory_documents import memory_stores
from tests import product_app
from tests.builders import deployment


@pytest.fixture
def store() -> Iterator[Stores]:
    store = memory_stores()
    use_ports(fake_ports(store=store))
    yield store
    use_ports(None)


def _call(name: str, url: str, params: dict[str, str] | None = None, route: dict[str, str] | None = None):
    entry = product_app.index().get(name)
    request = func.HttpRequest("GET", url, params=params or {}, route_params=route or {}, body=b"")
    return entry.handler(**{entry.trigger_name: request})


def test_the_app_registers_its_http_routes_with_function_keys() -> None:
    routes = {entry.name: (entry.trigger.get("route"), entry.trigger.get("authLevel")) for entry in product_app.index()}
    assert routes["list_deployments"] == ("deployments", "FUNCTION")
    assert routes["get_deployment"] == ("deployments/{deployment_id}", "FUNCTION")
    assert routes["create_deployment"] == ("deployments", "FUNCTION")
    assert routes["approve_deployment"] == ("deployments/{deployment_id}/approve", "FUNCTION")
    assert routes["list_events"] == ("events", "FUNCTION")
    assert routes["get_drift_run"] == ("drift/runs/{instance_id}", "FUNCTION")


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
