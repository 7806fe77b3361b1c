"""The Runtime Center's routes called as the Functions host calls them: the page (HTML, its security headers, the
sign-in redirect), its allow-listed assets, and a service's scaling history."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import azure.functions as func
import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.loops import LoopRecord
from tests import product_app
from tests.builders import completed, deployment, promoted
from tests.principals import signed_in
from triggers.center.page import ASSET_TYPES, ASSETS, state_machine
from triggers.identity import AUTH_ENABLED_SETTING

# The ids the browser tests click and read: stable interfaces of the page.
SHELL_TESTIDS = {
    "user",
    "roles",
    "sign-out",
    "error",
    "view",
    "reason-input",
    "confirm",
    "cancel",
    *(f"nav-{view}" for view in ("services", "deployments", "findings", "incidents", "audit")),
}


def call(name: str, url: str, route: dict[str, str] | None = None, headers: dict[str, str] | None = None):
    entry = product_app.index().get(name)
    request = func.HttpRequest(
        "GET", url, route_params=route or {}, body=b"", headers=signed_in() if headers is None else headers
    )
    return entry.handler(**{entry.trigger_name: request})


class Shell(HTMLParser):
    """What a browser would load and run from the page: scripts, style sheets, test ids, the data block."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styles: list[str | None] = []
        self.testids: set[str] = set()
        self.inline_styles = 0
        self.handlers: list[str] = []
        self.data: dict[str, str] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("data-testid"):
            self.testids.add(str(named["data-testid"]))
        self.inline_styles += "style" in named or tag == "style"
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            self.scripts.append(named)
            self._in = named.get("id") if named.get("type") == "application/json" else None
        if tag == "link" and named.get("rel") == "stylesheet":
            self.styles.append(named.get("href"))

    def handle_data(self, data: str) -> None:
        if self._in:
            self.data[self._in] = self.data.get(self._in, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = None


def test_the_page_is_html5_with_a_strict_policy_and_runs_no_inline_script(store: Stores) -> None:
    response = call("center_page", "http://localhost/api/center")

    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
    page = response.get_body().decode()
    assert page.startswith("<!doctype html>")
    shell = Shell()
    shell.feed(page)
    assert shell.testids >= SHELL_TESTIDS
    # Every script is a module from the app, or a JSON data block (never executed, so the policy allows it).
    assert [script.get("src") for script in shell.scripts if script.get("type") == "module"] == [
        "center/assets/center.js"
    ]
    assert all(script.get("src") or script.get("type") == "application/json" for script in shell.scripts)
    assert shell.styles == ["center/assets/center.css"]
    assert shell.inline_styles == 0 and shell.handlers == []
    assert json.loads(shell.data["state-machine"]) == state_machine()
    assert 'href="/.auth/logout?post_logout_redirect_uri=/api/center"' in page


def test_the_embedded_state_machine_is_the_deployments_own() -> None:
    machine = state_machine()
    assert machine["initial"] == "Requested" and machine["states"][0] == "Requested"
    assert ["HealthGating", "RollingBack"] in machine["transitions"]
    assert set(machine["terminal"]) == {"Completed", "RolledBack", "Failed"}


def test_a_browser_without_a_session_is_sent_to_sign_in_and_back() -> None:
    response = call("center_page", "http://localhost/api/center", headers={})

    assert response.status_code == 302
    assert response.headers["Location"] == "/.auth/login/aad?post_login_redirect_uri=/api/center"


def test_without_app_service_authentication_the_page_answers_the_401_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AUTH_ENABLED_SETTING)
    response = call("center_page", "http://localhost/api/center", headers={})

    assert response.status_code == 401 and response.mimetype == "application/problem+json"


def test_a_signed_in_caller_without_an_app_role_gets_the_403_problem_not_a_redirect() -> None:
    response = call("center_page", "http://localhost/api/center", headers=signed_in("nobody@contoso.com", ()))

    assert response.status_code == 403
    assert json.loads(response.get_body())["requiredRoles"]


@pytest.mark.parametrize("name", sorted(ASSET_TYPES))
def test_each_allow_listed_asset_is_served_with_its_type(name: str) -> None:
    response = call("center_asset", f"http://localhost/api/center/assets/{name}", {"name": name})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == ASSET_TYPES[name]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_body() == (ASSETS / name).read_bytes()


@pytest.mark.parametrize(
    "name", ["../page.py", "..%2Fpage.py", "../../../function_app.py", "CENTER.JS", "center.js/", "", ".", "x.js"]
)
def test_any_other_name_is_a_404_problem_that_serves_no_file(name: str) -> None:
    response = call("center_asset", "http://localhost/api/center/assets/x", {"name": name})

    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert "import" not in response.get_body().decode()


def test_the_assets_without_a_caller_answer_401() -> None:
    response = call("center_asset", "http://localhost/api/center/assets/center.js", {"name": "center.js"}, headers={})
    assert response.status_code == 401


def test_the_allow_list_is_the_assets_folder_and_every_module_import_is_in_it() -> None:
    assert {path.name for path in ASSETS.iterdir()} == set(ASSET_TYPES)
    for name in ASSET_TYPES:
        if name.endswith(".js"):
            imported = re.findall(r'^import .* from "\./([^"]+)";$', (ASSETS / name).read_text(), re.MULTILINE)
            assert set(imported) <= set(ASSET_TYPES), name


def test_no_script_parses_html_or_evaluates_text() -> None:
    """Names, reasons and diffs come from users: the page builds nodes with textContent only (no XSS)."""
    for name in (name for name in ASSET_TYPES if name.endswith(".js")):
        source = (ASSETS / name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{name} uses {sink}"


def test_a_services_scaling_history_is_served_oldest_first(store: Stores) -> None:
    done = store.deployments.create_deployment(completed(deployment("dep-1"), {"orders": "orders-r1"}))
    store.catalog.put_catalog_entry(promoted(done, "orders", "orders-r1"))
    evaluations = [
        {
            "at": f"2026-11-26T12:0{minute}:00.000000Z",
            "current": 2,
            "replicas": 2 + minute,
            "minReplicas": 1,
            "maxReplicas": 6,
            "metrics": {"cpu": 50.0 + 10 * minute},
            "rule": "cpu",
            "reason": "cpu",
        }
        for minute in range(3)
    ]
    store.loop_states.put_loop_state(LoopRecord("scaling", "dev/orders", {"history": evaluations}))

    response = call("service_history", "/api/services/dev/orders/history", {"environment": "dev", "service": "orders"})

    assert response.status_code == 200
    body = json.loads(response.get_body())
    assert (body["environment"], body["service"], body["revision"], body["policy"]) == (
        "dev",
        "orders",
        "orders-r1",
        None,
    )
    assert body["evaluations"] == evaluations


def test_the_history_of_a_service_never_promoted_is_a_404_problem(store: Stores) -> None:
    response = call("service_history", "/api/services/dev/nope/history", {"environment": "dev", "service": "nope"})

    assert response.status_code == 404 and "nope" in json.loads(response.get_body())["detail"]


def test_the_services_overview_shows_the_last_gate_of_the_promoting_deployment(store: Stores) -> None:
    done = completed(deployment("dep-1"), {"orders": "orders-r1"})
    gate = {"revision": "orders-r1", "status": "Healthy", "summary": "2/2 probes passed", "at": "2026-11-26T12:00:00"}
    done = done.with_service("orders", replace(done.services["orders"], last_health=gate))
    store.deployments.create_deployment(done)
    store.catalog.put_catalog_entry(promoted(done, "orders", "orders-r1"))

    [service] = json.loads(call("list_services", "/api/services").get_body())["services"]

    assert service["lastGate"] == gate and service["scaling"] is None
