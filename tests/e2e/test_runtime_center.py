"""The Runtime Center served by the product's host over HTTP: the page and its assets ship with the app and are
served by its own routes, to a signed-in caller; a browser without a session is sent to sign in."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.e2e.host_process import HostProcess
from triggers.center.page import ASSET_TYPES


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(host: HostProcess, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One GET as a browser would send it, redirects not followed: status, headers, body."""
    request = urllib.request.Request(f"{host.base_url}{path}", headers=headers)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_page_is_served_with_its_policy_to_a_signed_in_caller(product: HostProcess) -> None:
    status, headers, body = fetch(product, "/api/center", product.auth_headers())

    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
    assert b'src="center/assets/center.js"' in body and b'data-testid="nav-audit"' in body


def test_a_browser_without_a_session_is_redirected_to_the_local_sign_in(product: HostProcess) -> None:
    status, headers, _ = fetch(product, "/api/center", {"Accept": "text/html"})

    assert status == 302
    assert headers["Location"] == "/.auth/login/aad?post_login_redirect_uri=/api/center"
    status, _, form = fetch(product, headers["Location"], {})
    assert status == 200 and b'name="userRoles"' in form


@pytest.mark.parametrize("name", ["center.js", "center.css", "deployment.js"])
def test_the_assets_are_served_from_the_app_with_their_type(product: HostProcess, name: str) -> None:
    status, headers, body = fetch(product, f"/api/center/assets/{name}", product.auth_headers())

    assert status == 200 and headers["Content-Type"] == ASSET_TYPES[name] and body


@pytest.mark.parametrize("path", ["/api/center/assets/page.py", "/api/center/assets/..%2F..%2Ffunction_app.py"])
def test_no_other_file_is_served(product: HostProcess, path: str) -> None:
    status, _, body = fetch(product, path, product.auth_headers())

    assert status == 404 and b"import" not in body


def test_the_history_of_a_service_never_promoted_is_a_404_problem(product: HostProcess) -> None:
    code, problem = product.request("GET", "/api/services/dev/nowhere/history")
    assert code == 404 and problem["title"] == "Service not found"
