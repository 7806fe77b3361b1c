"""The role sweep: every route and method of the product's ``function_app.py`` called over HTTP by every kind of
caller, each answer compared with what the app's role model allows.

The product's routes are anonymous at the host (an Easy Auth principal can never satisfy function level, see
``triggers/identity.py``) and each one authorizes the caller's app roles itself. So, unlike the host's key
model (``funchost/tests/e2e/auth_sweep.py``, which still sweeps the surfaces the host guards), a key opens no
product route:

| caller | expected |
|---|---|
| no credentials | 401 (the app: nobody signed in) |
| a master, host, function or system key (``x-functions-key`` or ``?code=``), no token | 401 |
| a bearer token this host did not sign, or an expired one | 401 (the host's Easy Auth, before any function) |
| an ``X-MS-CLIENT-PRINCIPAL`` header the client sent itself (every role), no token | 401 (the host drops it) |
| signed in, no app role | 403 |
| signed in as Reader, Deployer, Approver or Operator | served if ``ALLOWED_ROLES[action]`` has the role, else 403 |

The Runtime Center's page answers a caller nobody signed in with a 302 to ``/.auth/login/aad`` instead of
401 (App Service's ``RedirectToLoginPage`` does the same before the app on Azure); the sweep follows no
redirect and counts that answer as the 401 it stands for.

"Served" means the function ran: any answer but 401 and 403 (the sweep's placeholder ids are often a 404 or a
422 of the route's own). A 403 must be the app's problem naming the roles the action needs (``requiredRoles``).
A **leak** is a call that should have been refused (401 or 403) and was not. Allowed callers run the functions
with placeholder values and no body: ``POST /api/drift/runs`` as an Operator starts a drift run.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from controlplane.domain.access import ALLOWED_ROLES, Action, Role, required_roles
from funchost.easy_auth import EasyAuth, Principal
from funchost.functions import HTTP, FunctionIndex
from funchost.http_routes import HttpRoute
from funchost.tests.e2e.auth_sweep import Sweep, route_calls
from tests.e2e.host_process import HostProcess
from triggers.identity import authorized_action

SERVED = "served"
REFUSED = frozenset({401, 403})


class Caller(StrEnum):
    NONE = "no credentials"
    MASTER_KEY = "master key"
    HOST_KEY = "host key"
    FUNCTION_KEY = "the route's function key"
    SYSTEM_KEY = "system key"
    FOREIGN_TOKEN = "bearer token another issuer signed"
    EXPIRED_TOKEN = "expired bearer token"
    FORGED_PRINCIPAL = "X-MS-CLIENT-PRINCIPAL sent by the client"
    NO_ROLE = "signed in, no app role"
    READER = Role.READER.value
    DEPLOYER = Role.DEPLOYER.value
    APPROVER = Role.APPROVER.value
    OPERATOR = Role.OPERATOR.value


KEYS = (Caller.MASTER_KEY, Caller.HOST_KEY, Caller.FUNCTION_KEY, Caller.SYSTEM_KEY)
UNAUTHENTICATED = frozenset({Caller.NONE, *KEYS, Caller.FOREIGN_TOKEN, Caller.EXPIRED_TOKEN, Caller.FORGED_PRINCIPAL})
ROLE_CALLERS = {
    Caller.READER: Role.READER,
    Caller.DEPLOYER: Role.DEPLOYER,
    Caller.APPROVER: Role.APPROVER,
    Caller.OPERATOR: Role.OPERATOR,
}


def expected(caller: Caller, action: Action) -> int | str:
    """What ``caller`` gets from a route authorized for ``action`` (the table above)."""
    if caller in UNAUTHENTICATED:
        return 401
    role = ROLE_CALLERS.get(caller)
    return SERVED if role is not None and role in ALLOWED_ROLES[action] else 403


@dataclass(frozen=True)
class Case:
    """One call of the sweep and its answer."""

    function: str
    action: Action
    method: str
    url: str
    caller: Caller
    by: str  # how the credential went: "header", "code" (a key in ?code=), "token", "none"
    expected: int | str  # a status, or SERVED
    status: int
    required_roles: tuple[str, ...] | None  # a 403 problem's requiredRoles, else None

    @property
    def right(self) -> bool:
        if self.expected == SERVED:
            return self.status not in REFUSED
        if self.status != self.expected:
            return False
        return self.status != 403 or self.required_roles == tuple(required_roles(self.action))

    @property
    def leak(self) -> bool:
        """Got past the check: a call that should have been refused and was not."""
        return self.expected != SERVED and self.status not in REFUSED

    def __str__(self) -> str:
        answer = f"{self.status}, want {self.expected}"
        return f"{self.method} {self.url} [{self.function}: {self.action}] {self.caller} by {self.by}: {answer}"


RoleSweep = Sweep[Case]
"""The role sweep's calls and verdicts (the key sweep's container)."""


def route_actions(index: FunctionIndex) -> dict[str, Action]:
    """The action each HTTP function of ``index`` is ``@authorized`` for; ValueError naming any that is not."""
    actions = {entry.name: authorized_action(entry.handler) for entry in index if entry.trigger_type == HTTP}
    missing = sorted(name for name, action in actions.items() if action is None)
    if missing:
        raise ValueError(f"routes without @authorized: {', '.join(missing)}")
    return {name: action for name, action in actions.items() if action is not None}


def sweep_roles(host: HostProcess, routes: Iterable[HttpRoute], actions: Mapping[str, Action]) -> RoleSweep:
    """Call every route of the running product ``host`` (``routes``: ``compile_routes`` of its index; ``actions``:
    :func:`route_actions`) as every :class:`Caller`, keys by header and by ``?code=``. A few calls at a time."""
    calls = list(route_calls(routes))
    credentials = _Credentials(host, {route.function for route, _, _ in calls})
    jobs: list[tuple[HttpRoute, str, str, Caller, str]] = []
    for route, method, path in calls:
        for caller in Caller:
            for by in ("header", "code") if caller in KEYS else (_by(caller),):
                jobs.append((route, method, f"{host.base_url}/api/{path}", caller, by))

    def call(job: tuple[HttpRoute, str, str, Caller, str]) -> tuple[int, tuple[str, ...] | None]:
        route, method, url, caller, by = job
        headers, query = credentials.of(caller, by, route.function)
        return _answer(method, f"{url}{query}", headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, jobs))
    cases = []
    for (route, method, url, caller, by), (status, required) in zip(jobs, answers, strict=True):
        action = actions[route.function]
        cases.append(Case(route.function, action, method, url, caller, by, expected(caller, action), status, required))
    return RoleSweep(tuple(cases))


def _by(caller: Caller) -> str:
    if caller is Caller.NONE:
        return "none"
    return "header" if caller is Caller.FORGED_PRINCIPAL else "token"


class _Credentials:
    """The headers (and ``?code=``) each caller sends; every key and token made once, before the calls run in
    threads (the key store creates a function's key file on first use)."""

    def __init__(self, host: HostProcess, functions: set[str]) -> None:
        keys = host.keys()
        self._keys = {Caller.MASTER_KEY: keys.master_key(), Caller.HOST_KEY: keys.host_key()}
        self._keys[Caller.SYSTEM_KEY] = keys.system_key()
        self._function_keys = {function: keys.function_key(function) for function in functions}
        everyone = tuple(role.value for role in Role)
        foreign = EasyAuth(secrets.token_bytes(32))  # right shape, another secret: as a token of another tenant
        self._tokens = {
            Caller.FOREIGN_TOKEN: foreign.bearer_token(Principal("aad", "sweep-foreign", "sweep-foreign", everyone)),
            Caller.EXPIRED_TOKEN: host.bearer_token("sweep-expired", everyone, seconds=-60),
            Caller.NO_ROLE: host.bearer_token("sweep-no-role", ()),
        }
        for caller, role in ROLE_CALLERS.items():
            self._tokens[caller] = host.bearer_token(f"sweep-{role.value.lower()}", (role.value,))
        self._forged_principal = Principal("aad", "sweep-forged", "sweep-forged", everyone).headers()

    def of(self, caller: Caller, by: str, function: str) -> tuple[dict[str, str], str]:
        """The headers and the query string (``""`` or ``?code=...``) of one call."""
        if caller in KEYS:
            key = self._function_keys[function] if caller is Caller.FUNCTION_KEY else self._keys[caller]
            return ({"x-functions-key": key}, "") if by == "header" else ({}, f"?code={quote(key, safe='')}")
        if caller is Caller.FORGED_PRINCIPAL:
            return dict(self._forged_principal), ""
        token = self._tokens.get(caller)
        return ({"Authorization": f"Bearer {token}"} if token else {}), ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Answers a redirect as it is (an HTTPError), so a sign-in redirect is seen, not the login form behind it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)
SIGN_IN_PATH = "/.auth/login/"


def _answer(method: str, url: str, headers: Mapping[str, str]) -> tuple[int, tuple[str, ...] | None]:
    """The status (a redirect to the sign-in counted as 401) and, for a 403 problem, its ``requiredRoles``."""
    request = urllib.request.Request(url, method=method, headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=60) as response:
            response.read()
            return int(response.status), None
    except urllib.error.HTTPError as error:
        body = error.read()
        if error.code in (302, 303) and (error.headers.get("Location") or "").startswith(SIGN_IN_PATH):
            return 401, None
        if error.code != 403:
            return int(error.code), None
        try:
            roles = json.loads(body).get("requiredRoles")
        except (ValueError, AttributeError):
            return 403, None
        return 403, tuple(roles) if isinstance(roles, list) else None
