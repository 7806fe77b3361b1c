"""The durable HTTP API answers a failure no handler answered (storage unreachable, above all) as the Durable
extension does: 500 with its fixed message, and nothing of the failure itself."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from aiohttp import web

from funchost.durable.rpc import RPC_PREFIX, UNEXPECTED_FAILURE, Route, _dispatch
from funchost.errors import TransientError

STORAGE_TEXT = "HubInstances get abc/: HTTPConnection(host='127.0.0.1', port=10002): Connection refused"


async def _unreachable(request: web.Request, instance_id: str) -> web.StreamResponse:
    raise TransientError(STORAGE_TEXT)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_storage_unreachable_is_the_extensions_500_without_the_storage_text() -> None:
    table: list[Route] = [(("instances", "{instance_id}"), {"GET": _unreachable})]

    async def dispatch(request: web.Request) -> web.StreamResponse:
        return await _dispatch(table, request, request.rel_url.raw_path.strip("/").split("/")[1:])

    async def scenario() -> tuple[int, str]:
        app = web.Application()
        app.router.add_route("*", "/{path:(?s:.*)}", dispatch)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        try:
            return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}{RPC_PREFIX}instances/abc")
        finally:
            await runner.cleanup()

    status, text = asyncio.run(scenario())
    assert status == 500
    assert json.loads(text) == {"Message": UNEXPECTED_FAILURE}
    assert "10002" not in text and "Hub" not in text
