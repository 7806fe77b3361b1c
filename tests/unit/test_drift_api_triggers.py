"""Drift API triggers called as functions: GET /api/drift/plan (a missing or unreadable desired state is a 409
that names the setting to fix and no server path; a configured one answers the plan as the document describes
it) and the findings' status filter."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from controlplane.adapters.git.desired_state import GitDesiredState
from controlplane.bootstrap import Ports, use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.domain.runtime import LiveWorkload
from controlplane.testing.memory_desired_state import MemoryDesiredState
from tests import product_app
from tests.builders import catalog_entry, finding, release
from tests.principals import signed_in
from triggers.openapi import api_document

DOCUMENT = Registry().with_resource("urn:api", Resource(api_document(), DRAFT202012))


@pytest.fixture(autouse=True)
def no_ports_installed() -> Iterator[None]:
    yield
    use_ports(None)


def get(function: str, route: str, params: dict[str, str] | None = None) -> tuple[int, dict]:
    handler = product_app.index().get(function).handler
    request = func.HttpRequest("GET", f"http://localhost/api/{route}", body=b"", params=params, headers=signed_in())
    response = handler(request)
    return response.status_code, json.loads(response.get_body())


def get_plan() -> tuple[int, dict]:
    return get("drift_plan", "drift/plan")


def test_without_a_desired_state_the_plan_is_a_409_naming_the_setting() -> None:
    wired = fake_ports()
    use_ports(Ports(settings=wired.settings, store=wired.store, compute=wired.compute))

    status, body = get_plan()

    assert status == 409 and body["status"] == 409
    assert body["title"] == "Drift detection is not configured"
    assert body["setting"] == "CONTROLPLANE_DESIRED_STATE" and "set CONTROLPLANE_DESIRED_STATE" in body["detail"]
    assert "local host" not in body["detail"]


def test_an_unreadable_desired_state_is_a_409_that_names_no_server_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-repository"
    use_ports(dataclasses.replace(fake_ports(), desired_state=GitDesiredState(str(missing))))

    status, body = get_plan()

    assert status == 409 and body["title"] == "Desired state unreadable"
    assert str(tmp_path) not in json.dumps(body) and "CONTROLPLANE_DESIRED_STATE" in body["detail"]


def test_with_a_desired_state_the_plan_lists_what_the_next_run_would_do_as_the_document_says() -> None:
    wired = fake_ports(desired_state=MemoryDesiredState([release("dev", ("orders",))]))
    wired.compute.add_unmanaged(LiveWorkload("dev", "cache", "cache-1", "example.azurecr.io/cache:1", 1, "", 0, False))
    use_ports(wired)

    status, body = get_plan()

    assert status == 200
    found = {(entry["service"], entry["kind"]) for entry in body["findings"]}
    assert found == {("orders", "missing"), ("cache", "unmanaged")}
    described = Draft202012Validator({"$ref": "urn:api#/components/schemas/DriftPlan"}, registry=DOCUMENT)
    assert not [error.message for error in described.iter_errors(body)]


def test_the_findings_filter_takes_a_status_and_refuses_an_empty_one() -> None:
    use_ports(fake_ports())

    assert get("list_findings", "drift/findings") == (200, {"findings": [], "continuation": None})
    assert get("list_findings", "drift/findings", {"status": "Open"}) == (200, {"findings": [], "continuation": None})
    for params in ({"status": ""}, {"status": "Open,Dismissed"}, {"top": "0"}, {"continuation": "AAAA"}):
        status, body = get("list_findings", "drift/findings", params)
        assert status == 400 and [error["path"] for error in body["errors"]] == [next(iter(params))]


def test_findings_page_by_top_with_the_status_sent_again() -> None:
    wired = fake_ports()
    for number in range(3):
        wired.store.findings.create_finding(finding(f"f-{number}", age=number))
    use_ports(wired)

    status, first = get("list_findings", "drift/findings", {"status": "Open", "top": "2"})
    assert status == 200 and [f["id"] for f in first["findings"]] == ["f-0", "f-1"]
    _, rest = get(
        "list_findings", "drift/findings", {"status": "Open", "top": "2", "continuation": first["continuation"]}
    )
    assert [f["id"] for f in rest["findings"]] == ["f-2"] and rest["continuation"] is None


def test_services_page_by_top_with_the_environment_sent_again() -> None:
    wired = fake_ports()
    for service in ("orders", "payments", "billing"):
        wired.store.catalog.put_catalog_entry(catalog_entry("dev", service))
    wired.store.catalog.put_catalog_entry(catalog_entry("prod", "orders"))
    use_ports(wired)

    status, first = get("list_services", "services", {"environment": "dev", "top": "2"})
    assert status == 200 and [v["service"] for v in first["services"]] == ["billing", "orders"]
    _, rest = get(
        "list_services", "services", {"environment": "dev", "top": "2", "continuation": first["continuation"]}
    )
    assert [v["service"] for v in rest["services"]] == ["payments"] and rest["continuation"] is None
    assert len(get("list_services", "services")[1]["services"]) == 4  # no top: the default page
    status, body = get("list_services", "services", {"continuation": first["continuation"][:-2]})
    assert status == 400 and body["errors"][0]["path"] == "continuation"
