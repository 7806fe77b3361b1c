"""Every route of the product's host with no key, a wrong key and each key kind (the table of what Azure
answers is in funchost/tests/e2e/auth_sweep.py), and the drift run's least-privilege status URL."""

from __future__ import annotations

import json

from funchost.http_routes import compile_routes
from funchost.tests.e2e.auth_sweep import Offered, sweep_host
from tests.e2e.host_process import OPERATOR, HostProcess
from tests.product_app import index


def test_a_drift_run_hands_out_only_its_status_url_which_shows_no_input_or_output(product: HostProcess) -> None:
    """Runs before the sweep, whose calls with a right key start a drift run too."""
    code, started = product.request("POST", "/api/drift/runs")
    status_url = f"{product.base_url}/api/drift/runs/drift"
    assert code == 202 and started.pop("actor")["name"] == OPERATOR and len(started.pop("traceId")) == 32
    assert started == {"instanceId": "drift", "statusQueryGetUri": status_url}
    assert product.request("GET", status_url, key=None, absolute=True) == (401, None)
    assert product.request("GET", status_url, key=product.keys().system_key(), absolute=True) == (401, None)
    code, status = product.request("GET", status_url, absolute=True)
    assert code == 200
    assert set(status) == {"instanceId", "runtimeStatus", "customStatus", "createdTime", "lastUpdatedTime"}
    assert status["instanceId"] == "drift" and status["runtimeStatus"] in ("Pending", "Running", "Completed", "Failed")
    assert "Traceback" not in json.dumps(status)
    code, missing = product.request("GET", "/api/drift/runs/no-such-run")
    assert code == 404 and missing["title"] == "Drift run not found"


def test_no_route_of_the_product_answers_without_the_right_key(product: HostProcess) -> None:
    routes = compile_routes(index())
    sweep = sweep_host(product.base_url, product.keys(), routes, product.rpc_origin)

    assert sweep.leaks == [], "\n".join(map(str, sweep.leaks))
    assert sweep.wrong == [], "\n".join(map(str, sweep.wrong))
    swept = {case.surface.removeprefix("function ") for case in sweep.cases}
    assert {route.function for route in routes} <= swept  # every httpTrigger of function_app.py
    assert {"webhook", "rpc without secret", "rpc with a wrong secret", "public /durabletask/", "homepage"} <= swept
    assert {case.offered for case in sweep.cases} == set(Offered)
