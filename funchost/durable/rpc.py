"""The Durable Functions HTTP API of the local host, which the SDK's DurableOrchestrationClient calls.

Served twice with the same handlers: under ``/durabletask/`` as the client binding's ``rpcBaseUrl``
(like the Functions host's local RPC endpoint; the host listens on loopback only), and under
``/runtime/webhooks/durabletask/`` for the management URLs handed to callers, where the
``durabletask_extension`` system key (what the URLs carry) or the master key is required, as on Azure.
Paths match in any case and route values keep theirs, as on Azure (see ``routes``). Status codes,
headers and bodies follow the Durable Functions HTTP API reference and the Durable extension's handler;
the shapes are in ``status_view.py`` and the query rules in ``instance_query.py``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import quote, unquote

from aiohttp import web

from funchost.durable.engine import DurableEngine
from funchost.durable.http_api import DurableHttpApi
from funchost.keys import DURABLE_EXTENSION, KeyStore, offered_key

RPC_PREFIX = "/durabletask/"
WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
Handler = Callable[..., Awaitable[web.StreamResponse]]
Route = tuple[tuple[str, ...], dict[str, Handler]]
"""A template's segments (``{value}`` or a literal) and the handler of each method it serves."""
# The extension's answer to any failure it did not expect (HttpApiHandler.HandleRequestAsync's last catch).
UNEXPECTED_FAILURE = "Something went wrong while processing your request"
log = logging.getLogger(__name__)


def client_binding(base_url: str, hub: str, system_key: str) -> str:
    """The JSON a ``durableClient`` input binding receives (what DurableOrchestrationClient parses).

    Every URL carries ``system_key``, the ``durabletask_extension`` system key, in ``code=``: the Functions
    host hands the extension its webhook URL with that key (``DefaultScriptWebHookProvider.cs``).
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
            "rpcBaseUrl": f"{base_url}{RPC_PREFIX}",
            "httpBaseUrl": "",
        }
    )


def routes(
    engine: DurableEngine, management_payload: Callable[[str], dict[str, str]], keys: KeyStore
) -> list[web.RouteDef]:
    """RPC and webhook routes; ``management_payload(instance_id)`` builds the check-status URLs.

    Each prefix is one route that takes every path under it, in any case: the Functions host hands all of
    ``runtime/webhooks/{extensionName}/...`` to the extension (HostController.ExtensionWebHookHandler; the
    name is looked up OrdinalIgnoreCase in DefaultScriptWebHookProvider, and the host's own tests call
    ``/runtime/webhooks/durableTask/``), after its key check, and the extension routes the rest itself.
    """
    table = _route_table(DurableHttpApi(engine, management_payload))
    dispatch = partial(_dispatch, table)
    return [
        web.route("*", _any_case(WEBHOOK_PREFIX), _keyed(keys, dispatch)),
        web.route("*", _any_case(RPC_PREFIX), dispatch),
    ]


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


async def _dispatch(table: list[Route], request: web.Request) -> web.StreamResponse:
    """Route the path after the prefix as ASP.NET Core's TemplateMatcher does for the extension: literal
    segments in any case (OrdinalIgnoreCase), values (instance ids, event and orchestrator names) as sent,
    each segment percent-decoded on its own (an encoded ``/`` stays inside its value), the leading and
    trailing ``/`` trimmed.

    A failure no handler answers (storage unreachable, above all) is 500 with the extension's message, as
    ``HttpApiHandler.HandleRequestAsync`` answers it (``CreateErrorResponse(InternalServerError, "Something
    went wrong while processing your request", e)``); the exception goes to the host log only. The extension
    can add the exception's message and stack to that body (ASP.NET's error-detail policy); this host
    never does: the storage text and server paths stay out of anything a caller reads."""
    rest = request.rel_url.raw_path.strip("/").split("/")[_prefix_depth(request) :]
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


def _prefix_depth(request: web.Request) -> int:
    return request.match_info["prefix"].count("/") + 1


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
