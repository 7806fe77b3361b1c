"""The route sweep: every route a running local host serves, called with no key, a wrong key and each key
kind, by header and by ``?code=``; each answer compared with what the Functions host answers.

What Azure answers (azure-functions-host ``AuthenticationLevelHandler.cs``, ``AuthUtility``,
``HostController.ExtensionWebHookHandler``; the key model is in ``funchost/keys.py``), written out here
rather than derived from ``funchost.keys`` so that the sweep checks the key model instead of repeating it:

| surface | none, wrong | master | host | own function key | another function's | system |
|---|---|---|---|---|---|---|
| ``/api`` route, ``authLevel function`` | 401 | served | served | served | 401 | 401 |
| ``/api`` route, ``authLevel admin`` | 401 | served | 401 | 401 | 401 | 401 |
| ``/api`` route, ``authLevel anonymous`` | served | served | served | served | served | served |
| ``/runtime/webhooks/durabletask/...`` | 401 | served | 403 | 401 (a function key opens no webhook) | 401 | served |
| Durable RPC listener, no or wrong secret | 404 | 404 | 404 | 404 | 404 | 404 |
| Durable RPC listener, the binding's secret | served | served | served | served | served | served |
| ``/durabletask/...`` on the public port | 404 | 404 | 404 | 404 | 404 | 404 |
| ``/`` (the homepage) | served | served | served | served | served | served |
| a path nothing serves | 404 | 404 | 404 | 404 | 404 | 404 |

"Served" means the function or handler ran: any answer but 401 and 403 (it may well be a 400 or a 404 of its
own for the sweep's placeholder values). An **auth leak** is a call without the right key (or secret) that
got anything but 401, 403 or 404. Calls with a right key run the functions with the placeholder route values
and no body: a route that acts on no input (``POST /api/drift/runs`` of the product) acts.
"""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar
from urllib.parse import quote

from funchost.http_routes import HttpRoute
from funchost.keys import KeyStore

SERVED = "served"
DENIED = frozenset({401, 403, 404})
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PARAMETER = re.compile(r"\{([^{}]*)\}")
_ANY_FUNCTION = "sweep-any-function"  # whose function key a webhook call offers when no route takes one (no webhook
# takes a function key, so any function's does)


class Offered(StrEnum):
    NONE = "no key"
    WRONG = "wrong key"
    MASTER = "master key"
    HOST = "host key"
    OWN_FUNCTION = "own function key"
    OTHER_FUNCTION = "another function's key"
    SYSTEM = "system key"


FUNCTION_LEVEL = {
    Offered.NONE: 401,
    Offered.WRONG: 401,
    Offered.MASTER: SERVED,
    Offered.HOST: SERVED,
    Offered.OWN_FUNCTION: SERVED,
    Offered.OTHER_FUNCTION: 401,
    Offered.SYSTEM: 401,
}
ADMIN_LEVEL = {**{offered: 401 for offered in Offered}, Offered.MASTER: SERVED}
OPEN = {offered: SERVED for offered in Offered}
WEBHOOK = {**FUNCTION_LEVEL, Offered.HOST: 403, Offered.OWN_FUNCTION: 401, Offered.SYSTEM: SERVED}
HIDDEN = {offered: 404 for offered in Offered}
Expected = dict[Offered, int | str]


@dataclass(frozen=True)
class Case:
    """One call of the sweep and its answer."""

    surface: str  # e.g. "function create_deployment", "webhook", "rpc without secret"
    method: str
    url: str  # without the key
    offered: Offered
    by: str  # "header" or "code"
    expected: int | str  # a status, or SERVED
    status: int

    @property
    def right(self) -> bool:
        return self.status not in (401, 403) if self.expected == SERVED else self.status == self.expected

    @property
    def leak(self) -> bool:
        """Answered without the right key: the caller was not meant to reach the handler, and did."""
        return self.expected != SERVED and self.status not in DENIED

    def __str__(self) -> str:
        answer = f"{self.status}, want {self.expected}"
        return f"{self.method} {self.url} [{self.surface}] {self.offered} by {self.by}: {answer}"


class Judged(Protocol):
    """A call of a sweep with its verdicts."""

    @property
    def right(self) -> bool: ...

    @property
    def leak(self) -> bool: ...


Judgement = TypeVar("Judgement", bound=Judged)


@dataclass(frozen=True)
class Sweep(Generic[Judgement]):
    """The calls of one sweep (this key sweep's ``Case``s, or another sweep's own), and those it found wrong."""

    cases: tuple[Judgement, ...]

    @property
    def leaks(self) -> list[Judgement]:
        return [case for case in self.cases if case.leak]

    @property
    def wrong(self) -> list[Judgement]:
        return [case for case in self.cases if not case.right]


@dataclass(frozen=True)
class _Call:
    surface: str
    method: str
    url: str
    expected: Expected
    function: str = ""  # whose function key is "own"


def sweep_host(
    base_url: str,
    keys: KeyStore,
    routes: Iterable[HttpRoute],
    rpc_origin: str,
    rpc_base_url: str | None = None,
    route_prefix: str = "api",
) -> Sweep[Case]:
    """Call every route of the host at ``base_url`` (its function ``routes``, ``funchost.http_routes``
    ``compile_routes`` of its index) with every key kind; ``keys`` is the host's key store, ``rpc_origin`` its
    RPC listener (``HostProcess.rpc_origin``) and ``rpc_base_url``, when known, a client binding's
    ``rpcBaseUrl`` (the right secret). ``routes`` may be empty: then only the surfaces the host itself guards are
    swept (an app whose routes are anonymous at the host and authorize in the app has its own sweep). Calls run a
    few at a time; the result holds every case."""
    routes = list(routes)
    keyed = sorted(route.function for route in routes if route.auth_level == "function")
    calls = [*_function_calls(base_url, routes, route_prefix), *_host_calls(base_url, rpc_origin, rpc_base_url)]
    jobs = [
        (call, offered, by, _key(keys, offered, call.function or (keyed[0] if keyed else _ANY_FUNCTION), keyed))
        for call in calls
        for offered in Offered
        for by in ("header", "code")
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda job: _status(job[0].method, job[0].url, job[2], job[3]), jobs))
    return Sweep(
        tuple(
            Case(call.surface, call.method, call.url, offered, by, call.expected[offered], status)
            for (call, offered, by, _), status in zip(jobs, statuses, strict=True)
        )
    )


def route_calls(routes: Iterable[HttpRoute]) -> Iterator[tuple[HttpRoute, str, str]]:
    """Each route with each of its methods and a concrete path (placeholder values for its parameters), where it
    is the route the host picks for that method and path (the first match in the compiled order)."""
    routes = list(routes)
    for route in routes:
        path = _concrete(route)
        for method in sorted(route.methods) if route.methods else ALL_METHODS:
            chosen = next((r for r in routes if r.allows(method) and r.match(path) is not None), None)
            if chosen is route:
                yield route, method, path


def _function_calls(base_url: str, routes: list[HttpRoute], prefix: str) -> Iterator[_Call]:
    expected = {"function": FUNCTION_LEVEL, "admin": ADMIN_LEVEL, "anonymous": OPEN}
    for route, method, path in route_calls(routes):
        url = f"{base_url}/{prefix}/{path}" if prefix else f"{base_url}/{path}"
        yield _Call(f"function {route.function}", method, url, expected[route.auth_level], route.function)


def _host_calls(base_url: str, rpc_origin: str, rpc_base_url: str | None) -> Iterator[_Call]:
    """The Durable webhooks (one call per route of the extension, on an instance and an orchestrator that do
    not exist, so that nothing is changed), the RPC listener, the retired public RPC path, the homepage, and
    paths nothing serves."""
    durable = (
        ("POST", "orchestrators/sweep-no-such-orchestrator"),
        ("POST", "orchestrators/sweep-no-such-orchestrator/sweep-instance"),
        ("GET", "instances"),
        ("DELETE", "instances"),
        ("GET", "instances/sweep-no-such-instance"),
        ("DELETE", "instances/sweep-no-such-instance"),
        ("POST", "instances/sweep-no-such-instance/terminate"),
        ("POST", "instances/sweep-no-such-instance/raiseEvent/sweep"),
    )
    for method, path in durable:
        yield _Call("webhook", method, f"{base_url}/runtime/webhooks/durabletask/{path}", WEBHOOK)
        yield _Call("public /durabletask/", method, f"{base_url}/durabletask/{path}", HIDDEN)
        yield _Call("rpc without secret", method, f"{rpc_origin}/durabletask/{path}", HIDDEN)
        wrong = secrets.token_urlsafe(32)
        yield _Call("rpc with a wrong secret", method, f"{rpc_origin}/durabletask/{wrong}/{path}", HIDDEN)
    if rpc_base_url:
        yield _Call("rpc with the binding's secret", "GET", f"{rpc_base_url}instances", OPEN)
    for method in ("GET", "POST"):
        yield _Call("homepage", method, f"{base_url}/", OPEN)
    for path in ("api/sweep-no-such-route", "admin/host/status", "runtime/webhooks/sweep/x"):
        yield _Call("not served", "GET", f"{base_url}/{path}", HIDDEN)


def _concrete(route: HttpRoute) -> str:
    """The route's template with each parameter filled by a value its constraints accept (a number, else a
    word); an optional parameter's slot is filled too."""

    def fill(parameter: str) -> str:
        return "7" if ":" in parameter else "sweep-x"

    path = _PARAMETER.sub(lambda found: fill(found.group(1)), route.template)
    if route.match(path) is None:  # a constraint a plain word or number fails: fall back to the number
        path = _PARAMETER.sub("7", route.template)
    return path


def _key(keys: KeyStore, offered: Offered, function: str, keyed: list[str]) -> str | None:
    if offered is Offered.NONE:
        return None
    if offered is Offered.WRONG:
        return secrets.token_urlsafe(40)
    if offered is Offered.MASTER:
        return keys.master_key()
    if offered is Offered.HOST:
        return keys.host_key()
    if offered is Offered.SYSTEM:
        return keys.system_key()
    if offered is Offered.OWN_FUNCTION:
        return keys.function_key(function)
    others = [name for name in keyed if name.lower() != function.lower()]
    return keys.function_key(others[0] if others else f"{function}-other")


def _status(method: str, url: str, by: str, key: str | None) -> int:
    headers = {"x-functions-key": key} if key is not None and by == "header" else {}
    if key is not None and by == "code":
        url = f"{url}{'&' if '?' in url else '?'}code={quote(key, safe='')}"
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)
