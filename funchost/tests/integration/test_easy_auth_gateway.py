"""The local host's Easy Auth emulation over a real loopback socket: sign in with the form, the cookie, /.auth/me,
the principal headers reaching a function, forged headers dropped, an edited cookie refused, sign out."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from funchost.easy_auth import SESSION_COOKIE, EasyAuth, Principal
from funchost.functions import FunctionIndex
from funchost.http_gateway import build_http_app
from funchost.keys import KeyStore
from funchost.tests.served_gateway import served
from funchost.worker_pool import WorkerPool

ROLES = "Reader, Deployer"


@dataclass(frozen=True)
class Host:
    base: str

    def form(self, session: requests.Session, query: str = "") -> tuple[requests.Response, dict[str, str]]:
        """The login form and its hidden fields."""
        page = session.get(f"{self.base}/.auth/login/aad{query}", timeout=10)
        hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        return page, hidden

    def sign_in(self, session: requests.Session, **fields: str) -> requests.Response:
        _, hidden = self.form(session)
        data = {"userId": "oid-1", "userDetails": "alice@contoso.com", "userRoles": ROLES, **hidden, **fields}
        return session.post(f"{self.base}/.auth/login/aad", data=data, allow_redirects=False, timeout=10)

    def echoed(self, session: requests.Session, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The headers the function received, names lower-cased."""
        reply = session.get(f"{self.base}/api/headers", headers=headers or {}, timeout=10)
        assert reply.status_code == 200
        return {name.lower(): value for name, value in reply.json().items()}


def _gateway(index: FunctionIndex, state: Path, easy_auth: EasyAuth | None) -> Iterator[Host]:
    worker = WorkerPool()
    app = build_http_app(index, KeyStore(state / "secrets"), worker=worker, easy_auth=easy_auth)
    with served(app, worker) as base:
        yield Host(base)
    worker.shutdown()


@pytest.fixture(scope="module")
def index() -> FunctionIndex:
    """Once per module: the SDK indexes an app only once."""
    from funchost.tests.apps.easy_auth_app import app as function_app

    return FunctionIndex.of_app(function_app)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host's state folder (its Easy Auth secret)."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def host(index: FunctionIndex, state: Path) -> Iterator[Host]:
    yield from _gateway(index, state, EasyAuth.from_settings({}, state))


def test_the_login_form_has_the_swa_cli_fields_and_a_token(host: Host) -> None:
    page, hidden = host.form(requests.Session(), "?post_login_redirect_uri=/api/center")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for field in ("userId", "userDetails", "userRoles"):
        assert f'name="{field}"' in page.text
    assert hidden["post_login_redirect_uri"] == "/api/center" and hidden["token"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"


def test_signing_in_sets_a_private_cookie_and_redirects(host: Host) -> None:
    session = requests.Session()
    _, hidden = host.form(session, "?post_login_redirect_uri=/api/center")
    reply = session.post(
        f"{host.base}/.auth/login/aad",
        data={"userId": "oid-1", "userDetails": "alice@contoso.com", "userRoles": ROLES, **hidden},
        allow_redirects=False,
        timeout=10,
    )
    assert (reply.status_code, reply.headers["Location"]) == (303, "/api/center")
    cookie = reply.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_auth_me_answers_the_signed_in_user_and_401_otherwise(host: Host) -> None:
    assert requests.get(f"{host.base}/.auth/me", timeout=10).status_code == 401
    session = requests.Session()
    host.sign_in(session)
    (identity,) = session.get(f"{host.base}/.auth/me", timeout=10).json()
    assert (identity["provider_name"], identity["user_id"]) == ("aad", "alice@contoso.com")
    assert [claim["val"] for claim in identity["user_claims"] if claim["typ"] == "roles"] == ["Reader", "Deployer"]


def test_the_function_receives_app_services_headers_for_the_signed_in_user(host: Host) -> None:
    session = requests.Session()
    host.sign_in(session)
    received = host.echoed(session)
    assert received["x-ms-client-principal-id"] == "oid-1"
    assert received["x-ms-client-principal-name"] == "alice@contoso.com"
    assert received["x-ms-client-principal-idp"] == "aad"
    principal = json.loads(base64.b64decode(received["x-ms-client-principal"]))
    assert [claim["val"] for claim in principal["claims"] if claim["typ"] == "roles"] == ["Reader", "Deployer"]


def test_headers_a_client_forges_never_reach_the_function(host: Host) -> None:
    forged_principal = base64.b64encode(
        json.dumps({"auth_typ": "aad", "claims": [{"typ": "roles", "val": "Operator"}]}).encode()
    )
    forged = {
        "X-MS-CLIENT-PRINCIPAL": forged_principal.decode(),
        "X-MS-CLIENT-PRINCIPAL-NAME": "mallory",
        "X-MS-TOKEN-AAD-ID-TOKEN": "eyJ",
    }
    anonymous = host.echoed(requests.Session(), forged)
    assert not [name for name in anonymous if name.startswith(("x-ms-client-principal", "x-ms-token-"))]
    session = requests.Session()
    host.sign_in(session)
    signed_in = host.echoed(session, forged)
    assert signed_in["x-ms-client-principal-name"] == "alice@contoso.com"
    assert "x-ms-token-aad-id-token" not in signed_in
    assert "Operator" not in base64.b64decode(signed_in["x-ms-client-principal"]).decode()


def test_a_bearer_token_of_this_host_reaches_the_function_as_its_principal(host: Host, state: Path) -> None:
    auth = EasyAuth.from_settings({}, state)
    assert auth is not None
    token = auth.bearer_token(Principal("aad", "oid-ci", "pipeline-ci", ("Deployer",)))
    received = host.echoed(requests.Session(), {"Authorization": f"Bearer {token}"})
    assert (received["x-ms-client-principal-id"], received["x-ms-client-principal-name"]) == ("oid-ci", "pipeline-ci")
    principal = json.loads(base64.b64decode(received["x-ms-client-principal"]))
    assert [claim["val"] for claim in principal["claims"] if claim["typ"] == "roles"] == ["Deployer"]


@pytest.mark.parametrize("token", ["not-a-token", "eyJhbGciOiJub25lIn0.eyJyb2xlcyI6WyJPcGVyYXRvciJdfQ.", ""])
def test_a_bearer_token_this_host_did_not_sign_is_401_before_any_function(host: Host, token: str) -> None:
    """App Service answers a token Entra ID did not issue for the app with 401; the function never runs."""
    reply = requests.get(f"{host.base}/api/headers", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert reply.status_code == 401 and 'error="invalid_token"' in reply.headers["WWW-Authenticate"]


def test_an_edited_cookie_is_refused(host: Host) -> None:
    session = requests.Session()
    host.sign_in(session)
    body, _, mac = session.cookies[SESSION_COOKIE].partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["roles"] = ["Operator"]
    edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    session.cookies.set(SESSION_COOKIE, f"{edited}.{mac}")

    assert session.get(f"{host.base}/.auth/me", timeout=10).status_code == 401
    assert "x-ms-client-principal" not in host.echoed(session)


def test_logging_out_clears_the_cookie(host: Host) -> None:
    session = requests.Session()
    host.sign_in(session)
    reply = session.get(f"{host.base}/.auth/logout?post_logout_redirect_uri=/bye", allow_redirects=False, timeout=10)
    assert (reply.status_code, reply.headers["Location"]) == (302, "/bye")
    assert SESSION_COOKIE not in session.cookies
    assert session.get(f"{host.base}/.auth/me", timeout=10).status_code == 401
    assert "x-ms-client-principal" not in host.echoed(session)


def test_a_bad_field_shows_the_form_again_naming_it_and_sets_no_cookie(host: Host) -> None:
    session = requests.Session()
    reply = host.sign_in(session, userDetails='"><script>x()</script>', userRoles="Reader, Release Manager")
    assert reply.status_code == 400 and "userRoles" in reply.text and "Set-Cookie" not in reply.headers
    assert 'value="Reader, Release Manager"' in reply.text
    assert "<script>" not in reply.text and "&lt;script&gt;" in reply.text  # what was typed comes back escaped


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"token": ""}, 403),
        ({"token": "forged.token"}, 403),
        ({"post_login_redirect_uri": "https://evil.example/"}, 400),
        ({"post_login_redirect_uri": "//evil.example/"}, 400),
    ],
)
def test_a_post_without_the_forms_token_or_to_another_site_sets_no_cookie(
    host: Host, change: dict[str, str], status: int
) -> None:
    reply = host.sign_in(requests.Session(), **change)
    assert reply.status_code == status and "Set-Cookie" not in reply.headers


def test_a_login_posted_from_another_origin_is_refused(host: Host) -> None:
    session = requests.Session()
    _, hidden = host.form(session)
    data = {"userId": "1", "userDetails": "x", **hidden}
    reply = session.post(
        f"{host.base}/.auth/login/aad",
        data=data,
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert reply.status_code == 403 and "Set-Cookie" not in reply.headers


def test_an_unconfigured_provider_is_404(host: Host) -> None:
    assert requests.get(f"{host.base}/.auth/login/github", timeout=10).status_code == 404


def test_with_the_emulation_off_there_is_no_auth_route_and_forged_headers_are_still_dropped(
    index: FunctionIndex, tmp_path: Path
) -> None:
    for off in _gateway(index, tmp_path, EasyAuth.from_settings({"WEBSITE_AUTH_ENABLED": "false"}, tmp_path)):
        assert requests.get(f"{off.base}/.auth/me", timeout=10).status_code == 404
        assert "x-ms-client-principal-name" not in off.echoed(requests.Session(), {"X-MS-CLIENT-PRINCIPAL-NAME": "m"})
