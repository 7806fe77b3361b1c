"""The Durable Functions HTTP API of the local host, which the SDK's DurableOrchestrationClient calls.

Served twice with the same handlers: under ``/durabletask/`` as the client binding's ``rpcBaseUrl``
(like the Functions host's local RPC endpoint; the host listens on loopback only), and under
``/runtime/webhooks/durabletask/`` for the management URLs handed to callers, where the
``durabletask_extension`` system key (what the URLs carry) or the master key is required, as on Azure.
Status codes follow the Durable Functions HTTP API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from aiohttp import web

from controlplane.errors import AlreadyExists, NotFound
from controlplane.local.durable.engine import DurableEngine
from controlplane.local.durable.history import RuntimeStatus, parse_timestamp
from controlplane.local.durable.store import InstanceRecord
from controlplane.local.keys import DURABLE_EXTENSION, KeyStore, offered_key

RPC_PREFIX = "/durabletask/"
WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_STATUS_CODE = {RuntimeStatus.COMPLETED: 200, RuntimeStatus.FAILED: 400, RuntimeStatus.TERMINATED: 400}


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


def status_json(record: InstanceRecord, history: list[dict] | None = None, show_input: bool = True) -> dict[str, Any]:
    """An instance in the Durable Functions status shape."""
    body: dict[str, Any] = {
        "name": record.name,
        "instanceId": record.instance_id,
        "runtimeStatus": record.status.value,
        "input": _decode(record.input) if show_input else None,
        "customStatus": _decode(record.custom_status),
        "output": _decode(record.output),
        "createdTime": record.created_time,
        "lastUpdatedTime": record.last_updated_time,
    }
    if history is not None:
        body["historyEvents"] = history
    return body


def routes(
    engine: DurableEngine, management_payload: Callable[[str], dict[str, str]], keys: KeyStore
) -> list[web.RouteDef]:
    """RPC and webhook routes; ``management_payload(instance_id)`` builds the check-status URLs."""
    api = _Api(engine, management_payload)
    table: list[web.RouteDef] = []
    for prefix, guard in ((RPC_PREFIX, _open), (WEBHOOK_PREFIX, partial(_keyed, keys))):
        table += [
            web.post(prefix + "orchestrators/{name}", guard(api.start)),
            web.post(prefix + "orchestrators/{name}/{instance_id}", guard(api.start)),
            web.get(prefix + "instances/", guard(api.query)),
            web.get(prefix + "instances", guard(api.query)),
            web.get(prefix + "instances/{instance_id}", guard(api.status)),
            web.delete(prefix + "instances/{instance_id}", guard(api.purge)),
            web.post(prefix + "instances/{instance_id}/raiseEvent/{event}", guard(api.raise_event)),
            web.post(prefix + "instances/{instance_id}/terminate", guard(api.terminate)),
        ]
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


class _Api:
    def __init__(self, engine: DurableEngine, management_payload: Callable[[str], dict[str, str]]) -> None:
        self._engine = engine
        self._payload = management_payload

    async def _call(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args))

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            input_json = _payload(await request.text())
        except ValueError:
            return _json({"ExceptionMessage": "the request body must be JSON"}, 400)
        try:
            instance_id = await self._call(
                self._engine.start_new, name, request.match_info.get("instance_id"), input_json
            )
        except KeyError as error:
            return _json({"ExceptionMessage": str(error).strip("'")}, 400)
        except AlreadyExists as error:
            return _json({"ExceptionMessage": str(error)}, 409)
        payload = self._payload(instance_id)
        return _json(payload, 202, {"Location": payload["statusQueryGetUri"]})

    async def status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        try:
            record = await self._call(self._engine.get_record, instance_id)
        except NotFound:
            return _json({"message": f"no instance {instance_id}"}, 404)
        history = None
        if _flag(request, "showHistory"):
            history = await self._call(self._engine.history, instance_id)
        show_input = request.query.get("showInput", "true").lower() != "false"
        return _json(status_json(record, history, show_input), _STATUS_CODE.get(record.status, 202))

    async def query(self, request: web.Request) -> web.Response:
        records = await self._call(self._engine.list_records)
        statuses = {s for s in request.query.get("runtimeStatus", "").split(",") if s}
        prefix = request.query.get("instanceIdPrefix", "")
        start, end = _time(request, "createdTimeFrom"), _time(request, "createdTimeTo")
        chosen = [
            record
            for record in records
            if (not statuses or record.status.value in statuses)
            and record.instance_id.startswith(prefix)
            and (start is None or parse_timestamp(record.created_time) >= start)
            and (end is None or parse_timestamp(record.created_time) <= end)
        ]
        chosen.sort(key=lambda record: record.created_time)
        return _json([status_json(record) for record in chosen], 200)

    async def raise_event(self, request: web.Request) -> web.Response:
        instance_id, name = request.match_info["instance_id"], request.match_info["event"]
        try:
            data_json = _payload(await request.text())
        except ValueError:
            return _json({"message": "Only application/json request content is supported"}, 400)
        try:
            record = await self._call(self._engine.get_record, instance_id)
            if record.status.is_terminal:
                return _json({"message": f"instance {instance_id} is {record.status.value}"}, 410)
            await self._call(self._engine.raise_event, instance_id, name, data_json)
        except NotFound:
            return _json({"message": f"no instance {instance_id}"}, 404)
        return web.Response(status=202)

    async def terminate(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        try:
            accepted = await self._call(self._engine.terminate, instance_id, request.query.get("reason", ""))
        except NotFound:
            return _json({"message": f"no instance {instance_id}"}, 404)
        return web.Response(status=202 if accepted else 410)

    async def purge(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        try:
            deleted = await self._call(self._engine.purge, instance_id)
        except AlreadyExists as error:
            return _json({"message": str(error)}, 409)
        if not deleted:
            return _json({"message": f"no instance {instance_id}"}, 404)
        return _json({"instancesDeleted": 1}, 200)


def _payload(body: str) -> str | None:
    """The serialized value a request body carries, as history stores it.

    The SDK's client posts its already serialized input as a JSON string (``"\"4\""`` for 4), which is
    unwrapped once; any other JSON body (a caller posting ``{"a": 1}`` itself) is the value.
    """
    if not body.strip():
        return None
    token = json.loads(body)
    return token if isinstance(token, str) else json.dumps(token)


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


def _time(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    return parse_timestamp(value) if value else None


def _decode(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value
