"""Every route the local host serves, with no key, a wrong key and each key kind (auth_sweep.py has the
table of what Azure answers): nothing answers without the right key, and every right key is let in."""

from __future__ import annotations

from funchost.http_routes import compile_routes
from funchost.tests.apps.durable_app import index
from funchost.tests.e2e.auth_sweep import SERVED, Offered, sweep_host
from funchost.tests.e2e.host_process import HostProcess


def test_no_route_answers_without_the_right_key_and_the_rpc_only_with_the_bindings_secret(host: HostProcess) -> None:
    rpc_base_url = host.request("GET", "/api/rpc-base-url")[1]
    assert rpc_base_url.startswith(f"{host.rpc_origin}/durabletask/")
    assert rpc_base_url != f"{host.rpc_origin}/durabletask/"  # a secret follows
    assert not rpc_base_url.startswith(host.base_url)  # its own listener, not the public one

    sweep = sweep_host(host.base_url, host.keys(), compile_routes(index()), host.rpc_origin, rpc_base_url)

    assert sweep.leaks == [], "\n".join(map(str, sweep.leaks))
    assert sweep.wrong == [], "\n".join(map(str, sweep.wrong))
    surfaces = {case.surface for case in sweep.cases}
    assert {"webhook", "rpc without secret", "rpc with a wrong secret", "rpc with the binding's secret"} <= surfaces
    assert {"homepage", "public /durabletask/", "function start", "function rpc_base_url"} <= surfaces
    assert {(case.offered, case.by) for case in sweep.cases} == {(o, by) for o in Offered for by in ("header", "code")}
    served = [case for case in sweep.cases if case.surface == "rpc with the binding's secret"]
    assert all(case.expected == SERVED for case in served)
    assert served and all(case.status == 200 for case in served)
