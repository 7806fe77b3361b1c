"""The HTTP API against its OpenAPI document on the product host over real HTTP: the served document is the
committed one and needs a caller like every route, and a bounded property-based fuzz finds no 5xx, no answer the
document does not describe and no hang."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.api_fuzz import fuzz_api
from tests.e2e.host_process import ROOT, HostProcess


def test_the_served_document_is_the_committed_one_and_needs_a_caller(product: HostProcess) -> None:
    status, served = product.request("GET", "/api/openapi.json")
    assert status == 200 and served == json.loads((ROOT / "schemas" / "openapi.json").read_text())
    assert product.request("GET", "/api/openapi.json", token=None, key=None)[0] == 401
    assert product.request("GET", "/api/openapi.json", token=None, key=product.key)[0] == 401  # keys open nothing
    assert product.request("GET", "/api/openapi.json", token="forged.token")[0] == 401


def test_the_drift_plan_without_a_desired_state_names_the_setting_and_no_server_path(product: HostProcess) -> None:
    status, body = product.request("GET", "/api/drift/plan")
    assert status == 409 and body["setting"] == "CONTROLPLANE_DESIRED_STATE", body
    assert str(Path(ROOT)) not in json.dumps(body)


def test_the_fuzz_finds_no_5xx_no_undocumented_answer_and_no_hang(product: HostProcess) -> None:
    requests, server_errors, failures = fuzz_api(product.base_url, product.auth_headers())

    assert requests > 100
    assert server_errors == 0 and not failures, "\n\n".join(failures)
