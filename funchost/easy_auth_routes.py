"""The ``/.auth/`` endpoints of the local host's Easy Auth emulation, and the middleware that tells the functions.

| route | answers |
|---|---|
| ``GET /.auth/login/aad`` | the login form (``userId``, ``userDetails``, ``userRoles``), as the SWA CLI's |
| ``POST /.auth/login/aad`` | sets the session cookie, 303 to ``post_login_redirect_uri`` (default ``/``) |
| ``GET /.auth/me`` | App Service's JSON array of identities; 401 when not signed in (as App Service) |
| ``GET /.auth/logout`` | clears the cookie, redirects (302) to ``post_logout_redirect_uri`` (default ``/``) |

A pipeline or the remote CLI authenticates with ``Authorization: Bearer <token>``: on Azure an Entra ID
access token for the app's audience; locally a token the host signs (``python -m controlplane token``).

The form and logout follow the Static Web Apps CLI (``src/msha/auth/routes/auth-login-provider.ts``,
``auth-logout.ts``: 302 to ``post_logout_redirect_uri``, default ``/``); ``/.auth/me`` and the headers follow
App Service, not SWA (whose ``/.auth/me`` is ``{"clientPrincipal": null}`` with a 200 when signed out).
A form field that cannot be used gets the form again, 400, naming the field. Another provider is a 404,
as an unconfigured one is on App Service. Redirects go to a path on this host only
(App Service refuses other URLs unless ``allowedExternalRedirectUrls`` lists them; the app lists none). The
form is CSRF-safe for an emulator: it carries a token signed by the host (a cross-site page cannot read it), a
POST whose ``Origin`` is another origin is refused, and the cookie is ``SameSite=Lax`` and ``HttpOnly``.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import CIMultiDict

from funchost.easy_auth import (
    PROVIDERS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    EasyAuth,
    LoginFieldError,
    Principal,
    injected_header_names,
    principal_from_form,
)

log = logging.getLogger(__name__)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOGIN_REDIRECT = "post_login_redirect_uri"
LOGOUT_REDIRECT = "post_logout_redirect_uri"


def easy_auth_routes(auth: EasyAuth) -> list[web.RouteDef]:
    """The ``/.auth/`` routes, signing with ``auth``."""
    endpoints = _Endpoints(auth)
    return [
        web.get("/.auth/login/{provider}", endpoints.form),
        web.post("/.auth/login/{provider}", endpoints.login),
        web.get("/.auth/me", endpoints.me),
        web.get("/.auth/logout", endpoints.logout),
    ]


def principal_middleware(auth: EasyAuth | None) -> Middleware:
    """Drops the ``X-MS-CLIENT-PRINCIPAL*``/``X-MS-TOKEN-*`` headers a client sent (App Service never passes
    them on; dropped even with the emulation off, never more lenient than Azure) and, for a request with a
    valid bearer token (``Authorization: Bearer``, see ``EasyAuth.bearer_token``) or session cookie, adds the
    ones App Service injects for its user. A bearer token this host did not sign, or an expired one, is a 401
    before any function runs, as App Service answers a token Entra ID did not issue for the app."""

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        forged = injected_header_names(request.headers)
        principal = None
        if auth is not None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                principal = auth.principal_of_bearer(token.strip())
                if principal is None:  # App Service answers an invalid or expired token with 401, never the app
                    return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            else:
                principal = auth.principal_of(request.cookies.get(SESSION_COOKIE))
        if not forged and principal is None:
            return await handler(request)
        if forged:
            log.warning("dropped headers only App Service may set: %s", ", ".join(sorted(set(forged))))
        headers = CIMultiDict((name, value) for name, value in request.headers.items() if name not in forged)
        if principal is not None:
            headers.update(principal.headers())
        return await handler(request.clone(headers=headers))

    return middleware


class _Endpoints:
    def __init__(self, auth: EasyAuth) -> None:
        self._auth = auth

    async def form(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        if provider not in PROVIDERS:
            return web.Response(status=404)
        redirect = request.query.get(LOGIN_REDIRECT, "/")
        if _local_path(redirect) is None:
            return _bad_redirect(LOGIN_REDIRECT)
        # A fresh GUID as the user id, the shape of an Entra object id (the SWA CLI also offers a random one).
        blank = {"userId": str(uuid.uuid4()), "userDetails": "", "userRoles": ""}
        return _page(provider, blank, redirect, self._auth.form_token())

    async def login(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        if provider not in PROVIDERS:
            return web.Response(status=404)
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            log.warning("refused a login form posted from another origin (%s)", origin[:100])
            return web.Response(status=403, text="the login form must be posted from this host")
        posted = await request.post()
        fields = {name: value for name, value in posted.items() if isinstance(value, str)}
        if not self._auth.form_token_valid(fields.get("token", "")):
            return web.Response(status=403, text="the login form's token is missing or expired: open the form again")
        redirect = _local_path(fields.get(LOGIN_REDIRECT, "/"))
        if redirect is None:
            return _bad_redirect(LOGIN_REDIRECT)
        try:
            principal = principal_from_form(provider, fields)
        except LoginFieldError as error:
            return _page(provider, fields, redirect, self._auth.form_token(), error, status=400)
        log.info("signed in %s (%s) with roles [%s]", principal.user_details, provider, ", ".join(principal.roles))
        response = web.Response(status=303, headers={"Location": redirect})
        _set_session(response, self._auth.session_cookie(principal))
        return response

    async def me(self, request: web.Request) -> web.StreamResponse:
        principal: Principal | None = self._auth.principal_of(request.cookies.get(SESSION_COOKIE))
        if principal is None:
            return web.Response(status=401)
        return web.json_response(principal.me(), headers={"Cache-Control": "no-store"})

    async def logout(self, request: web.Request) -> web.StreamResponse:
        redirect = _local_path(request.query.get(LOGOUT_REDIRECT, "/"))
        if redirect is None:
            return _bad_redirect(LOGOUT_REDIRECT)
        response = web.Response(status=302, headers={"Location": redirect})
        _set_session(response, "", max_age=0)
        return response


def _set_session(response: web.StreamResponse, value: str, max_age: int = SESSION_SECONDS) -> None:
    # Not Secure: the local host serves plain http on loopback, where a Secure cookie would not come back.
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="Lax")


def _local_path(target: str) -> str | None:
    """``target`` if it is a path on this host (``/...``, not ``//host`` or ``/\\host``), else None."""
    if not target.startswith("/") or target[1:2] in ("/", "\\") or not target.isprintable():
        return None
    return target


def _bad_redirect(field: str) -> web.Response:
    return web.Response(status=400, text=f"{field}: must be a path on this host, such as /api/center")


def _page(
    provider: str,
    fields: dict[str, str],
    redirect: str,
    token: str,
    error: LoginFieldError | None = None,
    status: int = 200,
) -> web.Response:
    """The login form, filled with ``fields`` and naming ``error``'s field when there is one."""

    def value(name: str) -> str:
        return html.escape(fields.get(name, ""), quote=True)

    problem = f'<p role="alert">{html.escape(error.field)}: {html.escape(error.reason)}</p>' if error else ""
    body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in ({html.escape(provider)}, local emulation)</title></head>
<body><h1>Sign in with {html.escape(provider)}: local App Service Authentication</h1>
<p>No identity provider is called: the functions receive the user typed here.</p>{problem}
<form method="post" action="/.auth/login/{html.escape(provider)}">
<label>User id <input name="userId" value="{value("userId")}" required></label><br>
<label>User details (name or e-mail) <input name="userDetails" value="{value("userDetails")}" required></label><br>
<label>Roles, comma-separated <input name="userRoles" value="{value("userRoles")}"></label><br>
<input type="hidden" name="token" value="{html.escape(token, quote=True)}">
<input type="hidden" name="{LOGIN_REDIRECT}" value="{html.escape(redirect, quote=True)}">
<button type="submit">Sign in</button>
</form></body></html>
"""
    # Never cached, never framed (a framed form could be clicked through by another site).
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
    return web.Response(status=status, text=body, content_type="text/html", headers=headers)
