"""HTTP triggers of the Runtime Center page: ``GET /api/center`` (the HTML shell) and its allow-listed assets.

Both need a caller whose roles allow reading, like every route; what the page then offers follows the caller's
roles (``GET /api/me``), and the API refuses anything else whatever the page shows. A browser without a session
is sent to sign in (302 to ``/.auth/login/aad``) instead of reading a JSON 401: on Azure, App Service
Authentication redirects such a browser before the app sees it (unauthenticated action
``RedirectToLoginPage``); behind ``Return401`` the app never sees it either, so the redirect is the app's own
answer only where the app is reached without a session.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import azure.durable_functions as df
import azure.functions as func

from controlplane.domain.access import Action
from triggers.center.page import ASSET_HEADERS, PAGE_HEADERS, asset, shell
from triggers.guard import guarded
from triggers.identity import LOGIN_PATH, authorized, easy_auth_enabled
from triggers.responses import problem

LOGOUT_PATH = "/.auth/logout"

bp = df.Blueprint()


def sign_in_first(
    route: Callable[[func.HttpRequest], func.HttpResponse],
) -> Callable[[func.HttpRequest], func.HttpResponse]:
    """A page route whose 401 (nobody signed in) becomes a 302 to the sign-in page, which comes back here.

    Put it between ``@guarded`` and ``@authorized``: the route stays authorized (``authorized_action`` follows
    the wrapper). With App Service Authentication off there is no sign-in page, so the 401 problem stays."""

    @functools.wraps(route)
    def run(req: func.HttpRequest) -> func.HttpResponse:
        response = route(req)
        if response.status_code != 401 or not easy_auth_enabled():
            return response
        back = quote(urlsplit(req.url).path or "/", safe="/")
        return func.HttpResponse(
            status_code=302,
            headers={"Location": f"{LOGIN_PATH}?post_login_redirect_uri={back}", "Cache-Control": "no-store"},
        )

    return run


@bp.route(route="center", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@sign_in_first
@authorized(Action.READ)
def center_page(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/center: the Runtime Center's HTML page (a sign-in redirect for a browser without a session)."""
    back = quote(urlsplit(req.url).path or "/", safe="/")
    logout = html.escape(f"{LOGOUT_PATH}?post_logout_redirect_uri={back}", quote=True)
    return func.HttpResponse(shell(logout), mimetype="text/html", charset="utf-8", headers=dict(PAGE_HEADERS))


@bp.route(route="center/assets/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def center_asset(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/center/assets/{name}: one of the page's scripts or its style sheet; 404 for any other name."""
    name = req.route_params.get("name", "")
    found = asset(name)
    if found is None:
        return problem(404, "Asset not found", f"the Runtime Center has no asset {name[:80]!r}")
    body, content_type = found
    return func.HttpResponse(body, headers={**ASSET_HEADERS, "Content-Type": content_type})
