"""Who gets in, over real HTTP on the product's host: the surfaces the host guards with keys (Durable webhooks, the
RPC listener, the homepage; the table of what Azure answers is in funchost/tests/e2e/auth_sweep.py), every product
route by app role (tests/e2e/role_sweep.py has the table), and the drift run's least-privilege status URL."""

from __future__ import annotations

import json

from controlplane.domain.access import Action
from funchost.http_routes import compile_routes
from funchost.tests.e2e.auth_sweep import Offered, sweep_host
from tests.e2e.host_process import OPERATOR, HostProcess
from tests.e2e.role_sweep import ROLE_CALLERS, SERVED, Caller, route_actions, sweep_roles
from tests.product_app import index


def test_a_drift_run_hands_out_only_its_status_url_which_shows_no_input_or_output(product: HostProcess) -> None:
    """Runs before the role sweep, whose Operator calls start a drift run too."""
    code, started = product.request("POST", "/api/drift/runs")
    status_url = f"{product.base_url}/api/drift/runs/drift"
    assert code == 202 and started.pop("actor")["name"] == OPERATOR and len(started.pop("traceId")) == 32
    assert started == {"instanceId": "drift", "statusQueryGetUri": status_url}
    assert product.request("GET", status_url, token=None, key=None, absolute=True)[0] == 401
    assert product.request("GET", status_url, token=None, key=product.keys().system_key(), absolute=True)[0] == 401
    code, status = product.request("GET", status_url, absolute=True)
    assert code == 200
    assert set(status) == {"instanceId", "runtimeStatus", "customStatus", "createdTime", "lastUpdatedTime"}
    assert status["instanceId"] == "drift" and status["runtimeStatus"] in ("Pending", "Running", "Completed", "Failed")
    assert "Traceback" not in json.dumps(status)
    code, missing = product.request("GET", "/api/drift/runs/no-such-run")
    assert code == 404 and missing["title"] == "Drift run not found"


def test_the_surfaces_the_host_guards_answer_only_the_right_key(product: HostProcess) -> None:
    sweep = sweep_host(product.base_url, product.keys(), [], product.rpc_origin)

    assert sweep.leaks == [], "\n".join(map(str, sweep.leaks))
    assert sweep.wrong == [], "\n".join(map(str, sweep.wrong))
    swept = {case.surface for case in sweep.cases}
    assert {"webhook", "rpc without secret", "rpc with a wrong secret", "public /durabletask/", "homepage"} <= swept
    assert {case.offered for case in sweep.cases} == set(Offered)


def test_every_product_route_answers_only_the_app_roles_its_action_allows(product: HostProcess) -> None:
    routes = compile_routes(index())
    actions = route_actions(index())
    sweep = sweep_roles(product, routes, actions)

    assert sweep.leaks == [], "\n".join(map(str, sweep.leaks))
    assert sweep.wrong == [], "\n".join(map(str, sweep.wrong))
    assert {case.function for case in sweep.cases} == set(actions)  # every httpTrigger of function_app.py
    assert {case.caller for case in sweep.cases} == set(Caller)
    assert {(case.caller, case.by) for case in sweep.cases if case.caller is Caller.MASTER_KEY} == {
        (Caller.MASTER_KEY, "header"),
        (Caller.MASTER_KEY, "code"),
    }
    # No key, however strong, opens a product route; nor does a principal header a client made up.
    refused = [case for case in sweep.cases if case.caller not in (Caller.NO_ROLE, *ROLE_CALLERS)]
    assert refused and {case.status for case in refused} == {401}

    mutating = [case for case in sweep.cases if case.method != "GET"]
    assert {case.function for case in mutating} >= {"create_deployment", "approve_deployment", "dismiss_finding"}
    reader_writes = [case for case in mutating if case.caller is Caller.READER]
    assert reader_writes and all(case.status == 403 for case in reader_writes), "\n".join(map(str, reader_writes))
    assert all(case.expected == SERVED for case in sweep.cases if case.caller is Caller.READER and case.method == "GET")
    assert all(case.status == 403 for case in sweep.cases if case.caller is Caller.NO_ROLE)
    operator = {case.function for case in sweep.cases if case.caller is Caller.OPERATOR and case.expected == SERVED}
    assert operator == {name for name, action in actions.items() if action not in (Action.DEPLOY, Action.APPROVE)}
