"""The local host's HTTP side: serves every httpTrigger function at ``/<prefix>/<route>`` as the Functions host does.

For each request, as azure-functions-host does (``WebScriptHostHttpRoutesManager.cs``,
``FunctionInvocationMiddleware.cs``): match the route (``http_routes``; the prefix and literals ignore case,
methods are route constraints, so a known path with another method is a plain 404), check the key the
function's ``authLevel`` requires (``keys``), build a real ``azure.functions.HttpRequest``, bind the trigger
and any durable client input, run the function (async on the event loop, sync on the worker's thread pool) and
send its return value converted as the Python worker converts it (the ``azure.functions`` library's own
``http`` output converter). Errors the host makes have its empty bodies: 404 (no route), 401 (no or wrong key), 500
(the function raised, returned what the worker cannot send, or ran past host.json's ``functionTimeout``:
``funchost.function_timeout``); the reason goes to the log instead. One log
line per request: method, path (never the query, which may carry a key), status, duration.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from funchost.easy_auth import EasyAuth
from funchost.easy_auth_routes import easy_auth_routes, principal_middleware
from funchost.errors import PermanentError
from funchost.function_timeout import FunctionTimeoutError
from funchost.functions import DURABLE_CLIENT, HTTP, FunctionEntry, FunctionIndex
from funchost.http_routes import HttpRoute, compile_routes
from funchost.keys import KeyStore, offered_key
from funchost.worker_pool import WorkerPool

logger = logging.getLogger(__name__)

ClientBinding = Callable[[str], str]
"""Function name → the durable client binding's JSON string, as the Functions host passes it."""
HTTP_ROUTES = web.AppKey("http_routes", list[HttpRoute])
"""The compiled function routes, most specific first (for a startup banner or diagnostics)."""
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection"})
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_http_app(
    index: FunctionIndex,
    keys: KeyStore,
    client_binding: ClientBinding | None = None,
    extra_routes: Iterable[web.AbstractRouteDef] = (),
    route_prefix: str = "api",
    worker: WorkerPool | None = None,
    homepage: bool = True,
    easy_auth: EasyAuth | None = None,
) -> web.Application:
    """An aiohttp app serving ``index``'s httpTrigger functions under ``/<route_prefix>/``.

    ``keys`` checks the keys of ``function`` and ``admin`` routes. ``client_binding`` supplies the durable
    client input of functions that declare one (``None``: such functions fail with 500, the log naming the
    missing binding). ``extra_routes`` (a list of route defs or a ``web.RouteTableDef``) are served before
    the function routes, e.g. the durable endpoints under ``/runtime/webhooks/durabletask/``; every other
    path and method falls to the function routes. Sync functions run on ``worker``'s thread pool, the one every
    sync function of the host shares (without it, a pool of the worker's default size of this app's own). The
    caller may add startup/cleanup hooks to the app. ``/``, when no function serves it, is the host's landing
    page (``homepage``), or an empty 204 as with ``AzureWebJobsDisableHomepage=true``. ``easy_auth`` serves
    ``/.auth/`` and tells the functions who is signed in (``funchost.easy_auth_routes``); with or without it,
    the ``X-MS-CLIENT-PRINCIPAL*`` headers a client sends never reach a function.
    Raises ``InvalidRoutes`` naming every function whose route template cannot be served.
    """
    routes = compile_routes(index)
    app = web.Application(middlewares=[_request_log, principal_middleware(easy_auth)])
    app[HTTP_ROUTES] = routes
    if easy_auth is not None:
        app.router.add_routes(easy_auth_routes(easy_auth))
    app.router.add_routes(list(extra_routes))
    prefix = route_prefix.strip("/")
    dispatch = _Dispatcher(index, routes, keys, client_binding, prefix, worker or WorkerPool(), homepage)
    # (?s): a decoded path may hold a newline (%0A), which reaches the function on Azure too.
    app.router.add_route("*", "/{path:(?s:.*)}", dispatch.handle)
    return app


class _Dispatcher:
    def __init__(
        self,
        index: FunctionIndex,
        routes: list[HttpRoute],
        keys: KeyStore,
        client_binding: ClientBinding | None,
        prefix: str,
        worker: WorkerPool,
        homepage: bool,
    ) -> None:
        self._index = index
        self._routes = routes
        self._keys = keys
        self._client_binding = client_binding
        self._prefix = prefix
        self._worker = worker
        self._homepage = homepage

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = self._route_path(request.match_info["path"])
        # Methods are route constraints (HttpMethodRouteConstraint): a route of other methods does not match.
        candidates = self._routes if path is not None else []
        chosen = next(
            (
                (route, params)
                for route in candidates
                if route.allows(request.method) and (params := route.match(path or "")) is not None
            ),
            None,
        )
        if chosen is None:
            if request.path == "/":  # HomepageMiddleware: any method at "/" when no function ran
                return _landing_page() if self._homepage else web.Response(status=204)
            return web.Response(status=404)
        route, route_params = chosen
        if route.auth_level != "anonymous":
            grant = self._keys.identify(offered_key(request.headers, request.query), route.function)
            if grant is None or not grant.opens_function(route.auth_level):
                needed = "the master key" if route.auth_level == "admin" else "a host, function or master key"
                logger.warning(
                    "401 for function %s (authLevel %s): send %s as header x-functions-key or query ?code= "
                    '(the "Keys:" line of the start-up banner names the command that prints them)',
                    route.function,
                    route.auth_level,
                    needed,
                )
                return web.Response(status=401)
        entry = self._index.get(route.function, HTTP)
        return await self._invoke(entry, await _function_request(request, route_params))

    def _route_path(self, path: str) -> str | None:
        """``path`` after the route prefix (compared ignoring case, as the host's route templates do); None
        if it is not under the prefix. One trailing slash is ignored."""
        path = path[:-1] if path.endswith("/") else path
        if not self._prefix:
            return path
        head, _, rest = path.partition("/")
        return rest if head.lower() == self._prefix.lower() else None

    async def _invoke(self, entry: FunctionEntry, function_request: func.HttpRequest) -> web.StreamResponse:
        try:
            result = await self._worker.invoke_async(entry, self._arguments(entry, function_request))
            return _response(result)
        except FunctionTimeoutError:  # logged by the worker pool in the host's words; the client gets a 500
            return web.Response(status=500)
        except Exception:
            logger.exception("function %s failed", entry.name)
            return web.Response(status=500)

    def _arguments(self, entry: FunctionEntry, function_request: func.HttpRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {entry.trigger_name: function_request}
        for binding in entry.inputs:
            if binding["type"] != DURABLE_CLIENT:
                raise PermanentError(
                    f"function {entry.name!r}: input binding {binding['name']!r} of type {binding['type']!r} "
                    "is not supported by the local host"
                )
            if self._client_binding is None:
                raise PermanentError(
                    f"function {entry.name!r} needs a durable client ({binding['name']!r}) but this host was "
                    "built without one: pass client_binding to build_http_app"
                )
            arguments[binding["name"]] = self._client_binding(entry.name)
        return arguments


async def _function_request(request: web.Request, route_params: dict[str, str]) -> func.HttpRequest:
    # Repeated headers and query keys are joined with commas, as the Functions host's string maps carry them.
    headers = {name: ", ".join(request.headers.getall(name)) for name in request.headers}
    params = {name: ",".join(request.query.getall(name)) for name in request.query}
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=headers,
        params=params,
        route_params=route_params,
        body=await request.read(),
    )


def _landing_page() -> web.Response:
    """What the Functions host answers at ``/`` (its own page differs in wording, not in status or type)."""
    body = (
        "<!DOCTYPE html><html><head><title>Your Functions app is up and running</title></head><body>"
        "<h1>Your Functions app is up and running</h1></body></html>"
    )
    return web.Response(status=200, text=body, content_type="text/html")


def _response(result: object) -> web.StreamResponse:
    """The function's return value as it reaches a client on Azure.

    The worker encodes it with the ``azure.functions`` library's ``http`` output converter
    (``azure/functions/http.py`` ``HttpResponseConverter.encode``; the worker's ``bindings/meta.py``
    ``get_datum`` turns "unsupported" into the TypeError raised here): an ``HttpResponse`` gets
    ``Content-Type: <mimetype>``, with ``; charset=<charset>`` only for ``text/*`` mimetypes, unless it set
    the header itself; a ``str`` is sent as ``text/plain; charset=utf-8`` (the host's string formatter);
    anything else (``None``, ``bytes``, a dict) fails the invocation. The host copies status, headers and
    body as given (``RawScriptResult.cs``).
    """
    try:
        datum = func.get_binding_registry().get("http").encode(result, expected_type=None)
    except NotImplementedError:
        raise TypeError(
            f'unable to encode outgoing TypedData: unsupported type "http" for Python type "{type(result).__name__}"'
        ) from None
    if datum.type == "string":
        return web.Response(status=200, text=datum.value, content_type="text/plain", charset="utf-8")
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in datum.value["headers"].items():
        if name.lower() == "content-type":
            headers["Content-Type"] = value.value  # the host sets it as response.ContentType: Kestrel's spelling
        elif name.lower() not in _HOP_BY_HOP:
            headers.add(name, value.value)
    for cookie in datum.value.get("cookies") or ():
        for morsel in cookie.values():
            headers.add("Set-Cookie", morsel.OutputString())
    return web.Response(status=int(datum.value["status_code"].value), body=datum.value["body"].value, headers=headers)


@web.middleware
async def _request_log(request: web.Request, handler: _Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        logger.info("%s %s %d %.1fms", request.method, request.path, status, elapsed)
