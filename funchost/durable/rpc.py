"""The Durable Functions HTTP API of the local host, which the SDK's DurableOrchestrationClient calls.

Served twice with the same handlers, as the Durable extension serves it:

- on the public listener under ``/runtime/webhooks/durabletask/`` for the management URLs handed to callers,
  where the ``durabletask_extension`` system key (what the URLs carry) or the master key is required
  (``webhook_routes``);
- on a listener of its own, the client binding's ``rpcBaseUrl``, which only the host's workers are told:
  the extension's local RPC endpoint (``LocalHttpListener.cs``, ``http://127.0.0.1:17071/durabletask/``,
  bound to loopback and never part of the app's public port, where ``/durabletask/`` is a 404). Azure trusts
  loopback alone there; this host also requires a secret drawn at every start as the path segment after
  ``/durabletask/`` (``rpc_app``), so another process or a browser page on the same machine cannot drive
  instances through it. The SDK builds every URL of its client (start, status, query, raise event,
  terminate, suspend, resume, rewind, restart, purge, entities) by appending to ``rpcBaseUrl``
  (``DurableOrchestrationClient.py``, ``RpcManagementOptions.to_url``), so the secret travels with each call.

Paths match in any case and route values keep theirs, as on Azure (see ``webhook_routes``). Status codes,
headers and bodies follow the Durable Functions HTTP API reference and the Durable extension's handler;
the shapes are in ``status_view.py`` and the query rules in ``instance_query.py``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote, unquote

from aiohttp import web

from funchost.durable.engine import DurableEngine
from funchost.durable.http_api import DurableHttpApi
from funchost.keys import DURABLE_EXTENSION, KeyStore, offered_key

RPC_PREFIX = "/durabletask/"
_SECRET_BYTES = 32
WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
Handler = Callable[..., Awaitable[web.StreamResponse]]
Route = tuple[tuple[str, ...], dict[str, Handler]]
"""A template's segments (``{value}`` or a literal) and the handler of each method it serves."""
# The extension's answer to any failure it did not expect (HttpApiHandler.HandleRequestAsync's last catch).
UNEXPECTED_FAILURE = "Something went wrong while processing your request"
log = logging.getLogger(__name__)


def new_rpc_secret() -> str:
    """A fresh secret for the RPC listener's path (one per host start, never stored)."""
    return secrets.token_urlsafe(_SECRET_BYTES)


def rpc_base_url(port: int, secret: str) -> str:
    """The client binding's ``rpcBaseUrl``: the RPC listener on loopback, the secret as its first segment."""
    return f"http://127.0.0.1:{port}{RPC_PREFIX}{secret}/"


def client_binding(base_url: str, hub: str, system_key: str, rpc_base: str) -> str:
    """The JSON a ``durableClient`` input binding receives (what DurableOrchestrationClient parses).

    Every management URL carries ``system_key``, the ``durabletask_extension`` system key, in ``code=``: the
    Functions host hands the extension its webhook URL with that key (``DefaultScriptWebHookProvider.cs``).
    ``rpc_base`` is the RPC listener's URL with its secret (``rpc_base_url``).
    """
    webhook = f"{base_url}{WEBHOOK_PREFIX}"
    code = quote(system_key)
    query = f"taskHub={quote(hub)}&connection=Storage&code={code}"
    instance = f"{webhook}instances/INSTANCEID"
    return json.dumps(
        {
            "taskHubName": hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{webhook}orchestrators/{{functionName}}[/{{instanceId}}]?code={code}",
                "createAndWaitOnNewInstancePostUri": f"{webhook}orchestrators/{{functionName}}[/{{instanceId}}]"
                f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&code={code}",
            },
            "managementUrls": {
                "id": "INSTANCEID",
                "statusQueryGetUri": f"{instance}?{query}",
                "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
                "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
                "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
                "purgeHistoryDeleteUri": f"{instance}?{query}",
                "restartPostUri": f"{instance}/restart?{query}",
                "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
                "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
            },
            "baseUrl": webhook.rstrip("/"),
            "requiredQueryStringParameters": f"code={code}",
            "rpcBaseUrl": rpc_base,
            "httpBaseUrl": "",
        }
    )


def webhook_routes(
    engine: DurableEngine, management_payload: Callable[[str], dict[str, str]], keys: KeyStore
) -> list[web.RouteDef]:
    """The keyed webhook routes of the public listener; ``management_payload(instance_id)`` builds the
    check-status URLs.

    One route takes every path under the prefix, in any case: the Functions host hands all of
    ``runtime/webhooks/{extensionName}/...`` to the extension (HostController.ExtensionWebHookHandler; the
    name is looked up OrdinalIgnoreCase in DefaultScriptWebHookProvider, and the host's own tests call
    ``/runtime/webhooks/durableTask/``), after its key check, and the extension routes the rest itself.
    """
    table = _route_table(DurableHttpApi(engine, management_payload))

    async def dispatch(request: web.Request) -> web.StreamResponse:
        depth = request.match_info["prefix"].count("/") + 1
        return await _dispatch(table, request, request.rel_url.raw_path.strip("/").split("/")[depth:])

    return [web.route("*", _any_case(WEBHOOK_PREFIX), _keyed(keys, dispatch))]


def rpc_app(engine: DurableEngine, management_payload: Callable[[str], dict[str, str]], secret: str) -> web.Application:
    """The RPC listener's app: ``/durabletask/<secret>/...`` (the literal in any case) serves the same routes
    as the webhooks, with no key check; any other path, a missing or a wrong secret (compared in constant
    time) is an empty 404, as for a path nothing serves. Nothing is logged per request: the path holds the
    secret."""
    table = _route_table(DurableHttpApi(engine, management_payload))
    expected = secret.encode()

    async def handle(request: web.Request) -> web.StreamResponse:
        segments = request.rel_url.raw_path.strip("/").split("/")
        if len(segments) < 2 or segments[0].lower() != RPC_PREFIX.strip("/"):
            return web.Response(status=404)
        if not hmac.compare_digest(unquote(segments[1]).encode(), expected):
            return web.Response(status=404)
        return await _dispatch(table, request, segments[2:])

    app = web.Application()
    app.router.add_route("*", "/{path:(?s:.*)}", handle)
    return app


def _route_table(api: DurableHttpApi) -> list[Route]:
    """The extension's routes (HttpApiHandler: StartOrchestrationRoute ``orchestrators/{functionName}/
    {instanceId?}``, InstancesRoute ``instances/{instanceId?}/{operation?}``, InstanceRaiseEventRoute
    ``instances/{instanceId?}/raiseEvent/{eventName}``) in the order it tries them, one template per number
    of segments, with the methods each serves; any other method on a matched path is a 404, as there."""
    templates: list[tuple[str, dict[str, Handler]]] = [
        ("orchestrators/{name}", {"POST": api.start}),
        ("orchestrators/{name}/{instance_id}", {"POST": api.start}),
        ("instances", {"GET": api.query, "DELETE": api.purge_matching}),
        ("instances/{instance_id}", {"GET": api.status, "DELETE": api.purge}),
        ("instances/{instance_id}/{operation}", {"POST": api.operation}),
        ("instances/{instance_id}/raiseEvent/{event}", {"POST": api.raise_event}),
    ]
    return [(tuple(template.split("/")), methods) for template, methods in templates]


async def _dispatch(table: list[Route], request: web.Request, rest: list[str]) -> web.StreamResponse:
    """Route ``rest``, the raw path's segments after the prefix, as ASP.NET Core's TemplateMatcher does for
    the extension: literal segments in any case (OrdinalIgnoreCase), values (instance ids, event and
    orchestrator names) as sent, each segment percent-decoded on its own (an encoded ``/`` stays inside its
    value), the leading and trailing ``/`` trimmed.

    A failure no handler answers (storage unreachable, above all) is 500 with the extension's message, as
    ``HttpApiHandler.HandleRequestAsync`` answers it (``CreateErrorResponse(InternalServerError, "Something
    went wrong while processing your request", e)``); the exception goes to the host log only. The extension
    can add the exception's message and stack to that body (ASP.NET's error-detail policy); this host
    never does: the storage text and server paths stay out of anything a caller reads."""
    segments = [unquote(segment) for segment in rest]
    for template, methods in table:
        values = _match(template, segments)
        if values is not None:
            handler = methods.get(request.method)
            if handler is None:
                return web.Response(status=404)
            try:
                return await handler(request, **values)
            except web.HTTPException:
                raise
            except Exception:  # the extension's last catch: logged, answered 500 with its fixed message
                log.exception("durable HTTP API: %s %s failed", request.method, "/".join(template))
                return web.json_response({"Message": UNEXPECTED_FAILURE}, status=500)
    return web.Response(status=404)


def _match(template: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(template) != len(segments):
        return None
    values: dict[str, str] = {}
    for part, segment in zip(template, segments, strict=True):
        if part.startswith("{"):
            values[part[1:-1]] = segment
        elif part.lower() != segment.lower():
            return None
    return values


def _any_case(prefix: str) -> str:
    """An aiohttp path for everything under ``prefix``, whose segments match in any case."""
    return f"/{{prefix:(?i:{re.escape(prefix.strip('/'))})}}{{rest:(?s:/.*)?}}"


def _keyed(keys: KeyStore, handler: Handler) -> Handler:
    """The Functions host's guard of extension webhooks (``HostController.ExtensionWebHookHandler``, policy
    ``SystemKeyAuthLevel``): the ``durabletask_extension`` system key or the master key. No matching key is
    401, a valid key of another kind (a host key) 403, both with empty bodies, as the host's own
    ``ExtensionWebHook_Succeeds`` test shows; the 401 is the policy's challenge, in which the host's JWT
    bearer scheme (ASP.NET Core's default challenge) adds ``WWW-Authenticate: Bearer``."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        grant = keys.identify(offered_key(request.headers, request.query))
        if grant is None:
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        if not grant.opens_webhook(DURABLE_EXTENSION):
            return web.Response(status=403)
        return await handler(request)

    return guarded
