"""The local host's HTTP side: serves every httpTrigger function at ``/<prefix>/<route>`` as the Functions host does.

For each request: match the route (``http_routes``), check the method (405 with ``Allow`` if only other
methods match), check the key for ``function``/``admin`` routes (``x-functions-key`` header or ``?code=``),
build a real ``azure.functions.HttpRequest``, bind the trigger and any durable client input, run the
function (async on the event loop, sync on a worker thread) and send its ``HttpResponse`` back.
Host-made errors are ``application/problem+json``. One log line per request: method, path (never the
query, which may carry the key), status, duration.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from controlplane.errors import PermanentError
from controlplane.local.functions import DURABLE_CLIENT, HTTP, FunctionEntry, FunctionIndex
from controlplane.local.http_routes import HttpRoute, compile_routes

logger = logging.getLogger(__name__)

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"
PROBLEM_JSON = "application/problem+json"
ClientBinding = Callable[[str], str]
"""Function name → the durable client binding's JSON string, as the Functions host passes it."""
HTTP_ROUTES = web.AppKey("http_routes", list[HttpRoute])
"""The compiled function routes, most specific first (for a startup banner or diagnostics)."""
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection"})
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_http_app(
    index: FunctionIndex,
    host_key: str,
    client_binding: ClientBinding | None = None,
    extra_routes: Iterable[web.AbstractRouteDef] = (),
    route_prefix: str = "api",
) -> web.Application:
    """An aiohttp app serving ``index``'s httpTrigger functions under ``/<route_prefix>/``.

    ``client_binding`` supplies the durable client input of functions that declare one (``None``: such
    functions answer 500 naming the missing binding). ``extra_routes`` (a list of route defs or a
    ``web.RouteTableDef``) are added before the function routes, e.g. the durable RPC endpoints under
    ``/runtime/webhooks/durabletask/``; the caller may also add startup/cleanup hooks to the returned app.
    Raises ``InvalidRoutes`` naming every function whose route template cannot be served.
    """
    if not host_key:
        raise PermanentError("the host key is empty: resolve one with controlplane.local.keys.resolve_host_key")
    routes = compile_routes(index)
    app = web.Application(middlewares=[_request_log, _router_problems])
    app[HTTP_ROUTES] = routes
    app.router.add_routes(list(extra_routes))
    prefix = f"/{route_prefix.strip('/')}" if route_prefix.strip("/") else ""
    dispatch = _Dispatcher(index, routes, host_key, client_binding, prefix)
    app.router.add_route("*", prefix + "/{tail:.*}", dispatch.handle)
    if prefix:
        app.router.add_route("*", prefix, dispatch.handle)
    return app


def problem(status: int, title: str, detail: str, **extensions: Any) -> web.Response:
    """An RFC 9457 problem response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extensions}
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_JSON)


class _Dispatcher:
    def __init__(
        self,
        index: FunctionIndex,
        routes: list[HttpRoute],
        host_key: str,
        client_binding: ClientBinding | None,
        prefix: str,
    ) -> None:
        self._index = index
        self._routes = routes
        self._key = host_key.encode()
        self._client_binding = client_binding
        self._prefix = prefix

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("tail", "")
        path = path[:-1] if path.endswith("/") else path
        matches = [(route, params) for route in self._routes if (params := route.match(path)) is not None]
        if not matches:
            return problem(404, "No function route", f"no function serves {request.method} {request.path}")
        chosen = next(((route, params) for route, params in matches if route.allows(request.method)), None)
        if chosen is None:
            allowed = sorted({method for route, _ in matches for method in route.methods or ()})
            return _method_not_allowed(request, allowed)
        route, route_params = chosen
        if route.auth_level != "anonymous" and not self._authorized(request):
            return problem(
                401,
                "Function key required",
                f"function {route.function!r} (authLevel {route.auth_level}) needs the host key: send header "
                f"{KEY_HEADER}: <key> or query ?{KEY_QUERY}=<key>. Locally the key is FUNCTIONS_HOST_KEY, "
                "or else the contents of .local/host-key.",
            )
        entry = self._index.get(route.function, HTTP)
        return await self._invoke(entry, await _function_request(request, route_params))

    def _authorized(self, request: web.Request) -> bool:
        supplied = request.headers.get(KEY_HEADER) or request.query.get(KEY_QUERY) or ""
        return hmac.compare_digest(supplied.encode(), self._key)

    async def _invoke(self, entry: FunctionEntry, function_request: func.HttpRequest) -> web.StreamResponse:
        try:
            arguments = self._arguments(entry, function_request)
        except PermanentError as error:
            return problem(500, "Function binding unavailable", str(error), function=entry.name)
        try:
            if entry.is_async:
                result = await entry.handler(**arguments)
            else:
                result = await asyncio.to_thread(entry.handler, **arguments)
        except Exception as error:
            logger.exception("function %s raised", entry.name)
            return problem(
                500,
                f"Function {entry.name} failed",
                f"{type(error).__name__}: {error}",
                function=entry.name,
                exception=type(error).__name__,
            )
        return _response(entry.name, result)

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


def _method_not_allowed(request: web.Request, allowed: list[str]) -> web.Response:
    response = problem(
        405,
        "Method not allowed",
        f"{request.path} does not accept {request.method} (allowed: {', '.join(allowed)})",
    )
    response.headers["Allow"] = ", ".join(allowed)
    return response


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


def _response(function: str, result: object) -> web.StreamResponse:
    """The function's return value as the Functions host sends it: HttpResponse, str/bytes (200), None (204)."""
    if isinstance(result, func.HttpResponse):
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in result.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                headers.add(name, value)
        if "Content-Type" not in headers:
            mimetype, charset = result.mimetype, result.charset
            headers["Content-Type"] = f"{mimetype}; charset={charset}" if charset else mimetype
        return web.Response(status=result.status_code, body=result.get_body(), headers=headers)
    if result is None:
        return web.Response(status=204)
    if isinstance(result, str | bytes):
        body = result.encode() if isinstance(result, str) else result
        return web.Response(status=200, body=body, headers={"Content-Type": "text/plain; charset=utf-8"})
    return problem(
        500,
        f"Function {function} returned {type(result).__name__}",
        "an HTTP function must return azure.functions.HttpResponse, str, bytes or None",
        function=function,
    )


@web.middleware
async def _router_problems(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """The router's own 404/405 (paths outside the function prefix) as problem JSON."""
    error = request.match_info.http_exception
    if error is None:
        return await handler(request)
    if isinstance(error, web.HTTPMethodNotAllowed):
        return _method_not_allowed(request, sorted(error.allowed_methods))
    if isinstance(error, web.HTTPNotFound):
        return problem(404, "Not found", f"nothing is served at {request.path}")
    return await handler(request)


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
