"""The local host's HTTP gateway over a real loopback socket, serving apps/http_gateway_app.py."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from funchost.functions import HTTP, FunctionEntry, FunctionIndex
from funchost.http_gateway import HTTP_ROUTES, build_http_app
from funchost.http_routes import InvalidRoutes
from funchost.keys import KeyStore

KEY = "test-host-key-0123456789"
CLIENT_BINDING = {
    "taskHubName": "TestHub",
    "creationUrls": {},
    "managementUrls": {},
    "rpcBaseUrl": "http://127.0.0.1:1/",
}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Gateway:
    base: str
    app: web.Application
    keys: KeyStore

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read())


async def _ping(request: web.Request) -> web.Response:
    return web.json_response({"pong": True})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The gateway on a free 127.0.0.1 port, its event loop on a background thread."""
    from funchost.tests.apps.http_gateway_app import app as function_app

    index = FunctionIndex.of_app(function_app)  # once per module: the SDK indexes an app only once
    keys = KeyStore(tmp_path_factory.mktemp("keys") / "secrets", host_key_override=KEY)
    app = build_http_app(
        index,
        keys,
        client_binding=lambda name: json.dumps(CLIENT_BINDING),
        extra_routes=[web.get("/runtime/webhooks/durabletask/ping", _ping)],
    )
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, name="http-gateway", daemon=True)
    thread.start()
    yield Gateway(f"http://127.0.0.1:{port}", app, keys)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def _is_empty(reply: Reply, status: int) -> None:
    """A response the Functions host makes itself: the status, no body (ASP.NET Core's 401/404/500 results)."""
    assert (reply.status, reply.body) == (status, b"")


def test_an_anonymous_route_passes_status_headers_and_body_through(gateway: Gateway) -> None:
    reply = gateway.call("GET", "/api/hello?name=ops")
    assert (reply.status, reply.body) == (203, b"hello ops")
    assert reply.headers["X-Greeting"] == "yes"
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_a_function_route_without_a_key_is_an_empty_401_and_the_log_says_which_keys(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="funchost.http_gateway"):
        _is_empty(gateway.call("GET", "/api/items/7"), 401)
    (line,) = [record.getMessage() for record in caplog.records if record.getMessage().startswith("401")]
    assert "get_item" in line and "x-functions-key" in line and "?code=" in line


def test_a_wrong_key_is_401(gateway: Gateway) -> None:
    _is_empty(gateway.call("GET", "/api/items/7", headers={"x-functions-key": "nope"}), 401)
    _is_empty(gateway.call("GET", "/api/items/7?code=nope"), 401)


def test_the_key_in_the_header_or_the_code_query_is_accepted(gateway: Gateway) -> None:
    by_header = gateway.call("GET", "/api/items/7", headers={"x-functions-key": KEY, "User-Agent": "probe/1"})
    by_query = gateway.call("GET", f"/api/items/7?code={KEY}")
    assert by_header.status == by_query.status == 200
    assert by_header.json()["agent"] == "probe/1"
    assert by_query.json()["url"].endswith(f"/api/items/7?code={KEY}")


def test_the_header_is_read_before_the_query_as_the_host_does(gateway: Gateway) -> None:
    _is_empty(gateway.call("GET", f"/api/items/7?code={KEY}", headers={"x-functions-key": "nope"}), 401)
    assert gateway.call("GET", "/api/items/7?code=nope", headers={"x-functions-key": KEY}).status == 200


@pytest.mark.parametrize(
    ("kind", "function_route", "admin_route"),
    [
        ("master", 200, 200),
        ("host", 200, 401),
        ("own function", 200, 401),
        ("other function", 401, 401),
        ("system", 401, 401),
    ],
)
def test_each_key_kind_opens_what_it_opens_on_azure(
    gateway: Gateway, kind: str, function_route: int, admin_route: int
) -> None:
    keys = gateway.keys
    key = {
        "master": keys.master_key,
        "host": keys.host_key,
        "own function": lambda: keys.function_key("get_item"),
        "other function": lambda: keys.function_key("echo"),
        "system": keys.system_key,
    }[kind]()
    assert gateway.call("GET", "/api/items/7", headers={"x-functions-key": key}).status == function_route
    assert gateway.call("GET", "/api/stats", headers={"x-functions-key": key}).status == admin_route


def test_route_params_include_optional_segments_only_when_present(gateway: Gateway) -> None:
    auth = {"x-functions-key": KEY}
    assert gateway.call("GET", "/api/items/7", headers=auth).json()["route"] == {"id": "7"}
    assert gateway.call("GET", "/api/items/-3/specs/", headers=auth).json()["route"] == {"id": "-3", "part": "specs"}


def test_a_value_failing_its_constraint_matches_no_route(gateway: Gateway) -> None:
    _is_empty(gateway.call("GET", "/api/items/seven", headers={"x-functions-key": KEY}), 404)
    _is_empty(gateway.call("GET", "/api/items/99999999999", headers={"x-functions-key": KEY}), 404)
    _is_empty(gateway.call("GET", "/api/names/r2d2"), 404)
    assert gateway.call("GET", "/api/names/Ada").json() == {"name": "Ada"}


def test_a_literal_segment_wins_over_a_parameter_and_literals_ignore_case(gateway: Gateway) -> None:
    assert gateway.call("GET", "/api/ITEMS/latest").json() == {"latest": True}


def test_the_route_prefix_ignores_case_and_parameters_keep_the_case_sent(gateway: Gateway) -> None:
    assert gateway.call("GET", "/API/names/AdA").json() == {"name": "AdA"}
    assert gateway.call("GET", "/Api/Hello?name=x").body == b"hello x"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_root_is_the_hosts_landing_page_for_any_method(gateway: Gateway, method: str) -> None:
    reply = gateway.call(method, "/")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")


def test_with_the_homepage_disabled_the_root_is_an_empty_204(tmp_path: Path) -> None:
    app = build_http_app(FunctionIndex([]), KeyStore(tmp_path / "secrets"), homepage=False)

    async def get_root() -> tuple[int, bytes]:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as reply:
                return reply.status, await reply.read()
        finally:
            await runner.cleanup()

    loop = asyncio.new_event_loop()  # not asyncio.run: it would leave the main thread without a current loop
    try:
        assert loop.run_until_complete(get_root()) == (204, b"")
    finally:
        loop.close()


def test_an_encoded_newline_in_a_route_value_reaches_the_function(gateway: Gateway) -> None:
    assert gateway.call("GET", "/api/files/a%0Ab").json() == {"rest": "a\nb", "method": "GET"}


def test_a_catch_all_takes_the_rest_of_the_path_for_any_method(gateway: Gateway) -> None:
    assert gateway.call("PUT", "/api/files/a/b.txt", body=b"x").json() == {"rest": "a/b.txt", "method": "PUT"}
    assert gateway.call("GET", "/api/files").json() == {"rest": None, "method": "GET"}


def test_a_function_without_a_route_is_served_at_its_name(gateway: Gateway) -> None:
    reply = gateway.call("GET", "/api/unrouted")
    assert (reply.status, reply.body) == (200, b"served by name")
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_a_post_receives_the_json_body_and_query(gateway: Gateway) -> None:
    headers = {"x-functions-key": KEY, "Content-Type": "application/json"}
    reply = gateway.call("POST", "/api/echo?tag=t1", body=json.dumps({"a": [1, 2]}).encode(), headers=headers)
    assert reply.status == 201
    assert reply.json() == {"received": {"a": [1, 2]}, "tag": "t1"}


def test_content_type_is_what_the_worker_sends_charset_only_for_text(gateway: Gateway) -> None:
    """azure/functions/http.py HttpResponseConverter.encode: ``<mimetype>; charset=<charset>`` for text/*,
    the bare mimetype otherwise, a Content-Type the function set as it is."""
    json_reply = gateway.call("POST", "/api/echo", body=b"{}", headers={"x-functions-key": KEY})
    assert json_reply.headers["Content-Type"] == "application/json"
    assert gateway.call("GET", "/api/hello").headers["Content-Type"] == "text/plain; charset=utf-8"
    assert gateway.call("GET", "/api/report").headers["Content-Type"] == "text/csv; charset=latin-1"


def test_a_function_returning_none_fails_as_the_worker_cannot_encode_it(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="funchost.http_gateway"):
        _is_empty(gateway.call("DELETE", "/api/echo", headers={"x-functions-key": KEY}), 500)
    assert any(
        record.exc_info and 'unsupported type "http" for Python type "NoneType"' in str(record.exc_info[1])
        for record in caplog.records
    )


def test_another_method_on_an_existing_route_is_an_empty_404(gateway: Gateway) -> None:
    _is_empty(gateway.call("GET", "/api/echo", headers={"x-functions-key": KEY}), 404)
    _is_empty(gateway.call("PATCH", "/api/hello"), 404)


def test_an_unknown_path_is_an_empty_404(gateway: Gateway) -> None:
    _is_empty(gateway.call("GET", "/api/nowhere"), 404)
    _is_empty(gateway.call("GET", "/elsewhere"), 404)


def test_an_unhandled_exception_is_an_empty_500_and_logged(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="funchost.http_gateway"):
        _is_empty(gateway.call("GET", "/api/boom"), 500)
    assert any(
        record.exc_info and "boom" in record.getMessage() and "the gauge broke" in str(record.exc_info[1])
        for record in caplog.records
    )


def test_an_async_function_receives_the_durable_client_binding(gateway: Gateway) -> None:
    assert gateway.call("GET", "/api/hub").json() == {"taskHub": "TestHub", "rpc": "http://127.0.0.1:1/"}


def test_a_blocking_sync_function_leaves_the_event_loop_free(gateway: Gateway) -> None:
    from funchost.tests.apps.http_gateway_app import released

    released.clear()
    replies: list[Reply] = []
    waiter = threading.Thread(target=lambda: replies.append(gateway.call("GET", "/api/wait")))
    waiter.start()
    assert gateway.call("POST", "/api/release").status == 200
    waiter.join(timeout=15)
    assert replies[0].body == b"released"


def test_extra_routes_are_served_and_other_methods_fall_to_an_empty_404(gateway: Gateway) -> None:
    assert gateway.call("GET", "/runtime/webhooks/durabletask/ping").json() == {"pong": True}
    _is_empty(gateway.call("POST", "/runtime/webhooks/durabletask/ping"), 404)


def test_each_request_is_logged_without_its_query(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="funchost.http_gateway"):
        gateway.call("GET", f"/api/items/7?code={KEY}")
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("GET /api/items/7 200 ") and line.endswith("ms") for line in lines)
    assert not any(KEY in line for line in lines)


def test_the_app_lists_its_function_routes_most_specific_first(gateway: Gateway) -> None:
    templates = [route.template for route in gateway.app[HTTP_ROUTES]]
    assert templates.index("items/latest") < templates.index("items/{id:int}/{part?}")
    assert templates[-1] == "files/{*rest}"


def test_an_unknown_constraint_fails_at_startup_naming_the_function() -> None:
    entry = FunctionEntry(
        name="bad",
        trigger_type=HTTP,
        trigger={"type": HTTP, "name": "req", "route": "x/{id:bogus}", "authLevel": "ANONYMOUS"},
        inputs=(),
        handler=lambda req: None,
    )
    with pytest.raises(InvalidRoutes, match=r"bad\.route: unknown constraint 'bogus' \(known: alpha"):
        build_http_app(FunctionIndex([entry]), KeyStore(Path("unused")))
