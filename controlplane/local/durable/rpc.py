"""The Durable Functions HTTP API of the local host, which the SDK's DurableOrchestrationClient calls.

Served twice with the same handlers: under ``/durabletask/`` as the client binding's ``rpcBaseUrl``
(like the Functions host's local RPC endpoint; the host listens on loopback only), and under
``/runtime/webhooks/durabletask/`` for the management URLs handed to callers, where the
``durabletask_extension`` system key (what the URLs carry) or the master key is required, as on Azure.
Status codes, headers and bodies follow the Durable Functions HTTP API reference and the Durable
extension's handler; the shapes are in ``status_view.py`` and the query rules in ``instance_query.py``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import quote

from aiohttp import web

from controlplane.local.durable.engine import DurableEngine
from controlplane.local.durable.http_api import DurableHttpApi, not_found
from controlplane.local.keys import DURABLE_EXTENSION, KeyStore, offered_key

RPC_PREFIX = "/durabletask/"
WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    """RPC and webhook routes; ``management_payload(instance_id)`` builds the check-status URLs."""
    api = DurableHttpApi(engine, management_payload)
    table: list[web.RouteDef] = []
    for prefix, guard in ((RPC_PREFIX, _open), (WEBHOOK_PREFIX, partial(_keyed, keys))):
        table += [
            web.post(prefix + "orchestrators/{name}", guard(api.start)),
            web.post(prefix + "orchestrators/{name}/{instance_id}", guard(api.start)),
            web.get(prefix + "instances/", guard(api.query)),
            web.get(prefix + "instances", guard(api.query)),
            web.delete(prefix + "instances/", guard(api.purge_matching)),
            web.delete(prefix + "instances", guard(api.purge_matching)),
            web.get(prefix + "instances/{instance_id}", guard(api.status)),
            web.delete(prefix + "instances/{instance_id}", guard(api.purge)),
            web.post(prefix + "instances/{instance_id}/raiseEvent/{event}", guard(api.raise_event)),
            web.post(prefix + "instances/{instance_id}/{operation}", guard(api.operation)),
        ]
        # Any other method on these paths is a 404, as the extension's HttpApiHandler answers it.
        paths = {route.path for route in table if route.path.startswith(prefix)}
        table += [web.route("*", path, guard(not_found)) for path in sorted(paths)]
    return table


def _open(handler: Handler) -> Handler:
    return handler


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
