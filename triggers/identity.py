"""Who is calling, and whether their app roles allow the route: App Service Authentication's principal.

With App Service Authentication (Easy Auth) on, App Service validates the caller's session or bearer token
before the Functions host sees the request, drops any ``X-MS-CLIENT-PRINCIPAL*`` header a client sent, and
passes the caller on as ``X-MS-CLIENT-PRINCIPAL``: base64 of ``{"auth_typ", "name_typ", "role_typ",
"claims": [{"typ", "val"}]}``. The routes are anonymous at the host level: the Functions host grants a
function-level route only to a key (its ``FunctionAuthorizationHandler`` checks the key's auth-level claim),
so a signed-in browser could never reach one. Every route is therefore wrapped in :func:`authorized`, which
answers 401 without a principal and 403 when none of its roles allows the action.

The header is trusted only while ``WEBSITE_AUTH_ENABLED`` is true, the setting App Service sets when
authentication is on: without it App Service does not strip the header, and anyone could send one.
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, Protocol, overload

import azure.functions as func

from controlplane.domain.access import Action, Actor, required_roles
from triggers.guard import request_of
from triggers.responses import problem

AUTH_ENABLED_SETTING = "WEBSITE_AUTH_ENABLED"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
NAME_CLAIMS = ("name", "preferred_username", "upn", "appid", "azp")
ROLES_CLAIM = "roles"
LOGIN_PATH = "/.auth/login/aad"
_AUTHORIZED_MARK = "__authorized_action__"

P = ParamSpec("P")


def easy_auth_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether App Service Authentication is on (``WEBSITE_AUTH_ENABLED`` is ``true``, any case)."""
    return (environ if environ is not None else os.environ).get(AUTH_ENABLED_SETTING, "").strip().lower() == "true"


def caller(req: func.HttpRequest) -> Actor | None:
    """The signed-in caller, or None: no principal, a malformed one, or authentication off (then none is
    trusted). A principal without an object id is no caller: nothing could tell two of them apart."""
    encoded = req.headers.get(PRINCIPAL_HEADER)
    if not encoded or not easy_auth_enabled():
        return None
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        return None
    claims = [claim for claim in document["claims"] if isinstance(claim, dict)]

    def values(*types: object) -> list[str]:
        return [str(claim.get("val")) for claim in claims if claim.get("typ") in types and claim.get("val")]

    object_id = next(iter(values(*OBJECT_ID_CLAIMS)), "")
    if not object_id:
        return None
    names = [*values(document.get("name_typ"), *NAME_CLAIMS), req.headers.get(f"{PRINCIPAL_HEADER}-NAME") or ""]
    name = next((candidate for candidate in names if candidate), object_id)
    roles = tuple(dict.fromkeys(values(ROLES_CLAIM, document.get("role_typ"))))
    return Actor(name, object_id, roles)


def actor_of(req: func.HttpRequest) -> Actor:
    """The caller of a route wrapped in :func:`authorized` (which let only a signed-in caller through)."""
    actor = caller(req)
    if actor is None:
        raise LookupError("actor_of() is for routes wrapped in @authorized: this request has no caller")
    return actor


def refusal(req: func.HttpRequest, action: Action) -> func.HttpResponse | None:
    """401 when nobody is signed in, 403 when the caller's roles do not allow ``action``, else None."""
    actor = caller(req)
    if actor is None:
        if not easy_auth_enabled():
            detail = (
                "App Service Authentication is off (WEBSITE_AUTH_ENABLED), so no caller can be trusted: "
                "turn it on with infra/ (Entra ID), or on the local host leave WEBSITE_AUTH_ENABLED unset"
            )
        else:
            detail = f"sign in at {LOGIN_PATH}, or send a bearer token for the app's audience"
        return problem(401, "Sign-in required", detail, headers={"WWW-Authenticate": 'Bearer realm="controlplane"'})
    if not actor.may(action):
        needed = required_roles(action)
        detail = (
            f"{action.value} needs the app role {' or '.join(needed)}; {actor.name} has "
            f"{', '.join(actor.roles) if actor.roles else 'no app role'}"
        )
        return problem(403, "Forbidden", detail, action=action.value, requiredRoles=needed, roles=list(actor.roles))
    return None


class Authorizing(Protocol):
    """What :func:`authorized` returns: a decorator keeping a route's signature, sync or async."""

    @overload
    def __call__(
        self, route: Callable[P, Awaitable[func.HttpResponse]]
    ) -> Callable[P, Awaitable[func.HttpResponse]]: ...
    @overload
    def __call__(self, route: Callable[P, func.HttpResponse]) -> Callable[P, func.HttpResponse]: ...


def authorized(action: Action) -> Authorizing:
    """A route that runs only for a caller whose roles allow ``action`` (else 401/403, see :func:`refusal`).

    Put it under ``@guarded``: it keeps the function's name, signature and coroutine-ness as ``guarded`` does."""

    def decorate(route: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(route):

            @functools.wraps(route)
            async def run_async(*args: Any, **kwargs: Any) -> func.HttpResponse:
                refused = _refused(action, [*args, *kwargs.values()])
                return refused if refused is not None else await route(*args, **kwargs)

            setattr(run_async, _AUTHORIZED_MARK, action)
            return run_async

        @functools.wraps(route)
        def run(*args: Any, **kwargs: Any) -> func.HttpResponse:
            refused = _refused(action, [*args, *kwargs.values()])
            return refused if refused is not None else route(*args, **kwargs)

        setattr(run, _AUTHORIZED_MARK, action)
        return run

    return decorate


def authorized_action(function: Callable[..., object]) -> Action | None:
    """The action a route is authorized for, or None when it is not wrapped in :func:`authorized`."""
    current: Any = function
    while current is not None:
        mark = getattr(current, _AUTHORIZED_MARK, None)
        if mark is not None:
            return mark
        current = getattr(current, "__wrapped__", None)
    return None


def _refused(action: Action, arguments: list[object]) -> func.HttpResponse | None:
    req = request_of(arguments)
    if req is None:
        raise TypeError("an @authorized route takes the HttpRequest as an argument")
    return refusal(req, action)
