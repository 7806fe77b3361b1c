"""Every HTTP trigger is guarded: storage away is 503 + Retry-After with no storage text, anything unexpected
an opaque 500 whose error id is in the log with the traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import azure.functions as func
import pytest
from aiohttp import web

from controlplane.adapters.storage.documents import AnyOf, Document, IndexValue, KeyRange
from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.errors import TransientError
from funchost.functions import HTTP
from tests import product_app
from tests.builders import release_document
from tests.principals import signed_in
from triggers.guard import RETRY_AFTER_SECONDS, is_guarded, is_unavailable

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
STORAGE_TEXT = "HTTPConnectionPool(host='127.0.0.1', port=10002): /devstoreaccount1/cpDeployments refused"


class UnreachableTables:
    """Document tables whose every call fails as the Table adapter fails when Azurite is down."""

    def _down(self, *args: object, **kwargs: object) -> Any:
        raise TransientError(f"Deployments: {STORAGE_TEXT}")

    create_tables = get = insert = replace = upsert = delete = transact = _down

    def query(
        self, table: str, partition: str | None = None, where: Mapping[str, IndexValue] | None = None
    ) -> Iterator[Document]:
        return self._down()

    def scan(self, table: str, keys: KeyRange, clauses: Sequence[AnyOf] = (), batch: int = 1000) -> Iterator[Document]:
        return self._down()


def client_binding(base_url: str) -> str:
    """The ``durableClient`` binding JSON (the documented shape) with every URL under ``base_url``."""
    webhook = f"{base_url}/runtime/webhooks/durabletask"
    instance = f"{webhook}/instances/INSTANCEID"
    return json.dumps(
        {
            "taskHubName": "Hub",
            "creationUrls": {"createNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"},
            "managementUrls": {"id": "INSTANCEID", "statusQueryGetUri": instance},
            "baseUrl": webhook,
            "requiredQueryStringParameters": "code=k",
            "rpcBaseUrl": f"{base_url}/durabletask/",
            "httpBaseUrl": "",
        }
    )


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound by this test but not listening: every connection to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


async def answering_500() -> tuple[web.AppRunner, int]:
    """An endpoint that answers every request as the Durable extension answers a failure it did not expect;
    its runner and port."""

    async def failing(request: web.Request) -> web.Response:
        return web.json_response({"Message": "Something went wrong while processing your request"}, status=500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", failing)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


@pytest.fixture
def unreachable() -> Iterator[None]:
    use_ports(fake_ports(store=Stores.over(UnreachableTables())))
    yield
    use_ports(None)


@pytest.fixture
def reachable() -> Iterator[Stores]:
    stores = fake_ports().store
    use_ports(fake_ports(store=stores))
    yield stores
    use_ports(None)


def handler(name: str, method: str = "GET", body: bytes = b"", route: dict[str, str] | None = None, **extra: Any):
    """What the trigger function returns for a request (a coroutine for an async one)."""
    entry = product_app.index().get(name)
    request = func.HttpRequest(
        method, f"/api/{name}", route_params=route or {}, body=body, headers={"traceparent": TRACEPARENT, **signed_in()}
    )
    return entry.handler(**{entry.trigger_name: request}, **extra)


def call(name: str, method: str = "GET", body: bytes = b"", route: dict[str, str] | None = None, **extra: Any):
    result = handler(name, method, body, route, **extra)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def test_every_http_trigger_of_the_app_is_guarded() -> None:
    routes = [entry for entry in product_app.index() if entry.trigger_type == HTTP]
    assert routes
    assert [entry.name for entry in routes if not is_guarded(entry.handler)] == []


@pytest.mark.parametrize(
    ("name", "route"),
    [
        ("list_deployments", {}),
        ("get_deployment", {"deployment_id": "dep-1"}),
        ("list_findings", {}),
        ("list_services", {}),
    ],
)
@pytest.mark.usefixtures("unreachable")
def test_storage_away_is_503_with_retry_after_and_no_storage_text(name: str, route: dict[str, str]) -> None:
    response = call(name, route=route)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.mimetype == "application/problem+json"
    text = response.get_body().decode()
    assert json.loads(text)["status"] == 503
    assert "10002" not in text and "devstoreaccount1" not in text and "Deployments" not in text


@pytest.mark.usefixtures("unreachable")
def test_a_deployment_posted_while_storage_is_away_is_503(refusing_port: int) -> None:
    client = client_binding(f"http://127.0.0.1:{refusing_port}")
    response = call("create_deployment", "POST", json.dumps(release_document()).encode(), client=client)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)


@pytest.mark.usefixtures("reachable")
def test_the_durable_extension_unreachable_is_503(refusing_port: int) -> None:
    client = client_binding(f"http://127.0.0.1:{refusing_port}")
    response = call("create_deployment", "POST", json.dumps(release_document()).encode(), client=client)
    assert response.status_code == 503
    assert str(refusing_port) not in response.get_body().decode()


@pytest.mark.usefixtures("reachable")
def test_the_durable_extension_failing_is_503() -> None:
    async def scenario() -> func.HttpResponse:
        runner, port = await answering_500()
        try:
            client = client_binding(f"http://127.0.0.1:{port}")
            return await handler("create_deployment", "POST", json.dumps(release_document()).encode(), client=client)
        finally:
            await runner.cleanup()

    response = asyncio.run(scenario())
    assert response.status_code == 503
    assert "Something went wrong" not in response.get_body().decode()


def test_an_unexpected_error_is_an_opaque_500_whose_id_is_logged_with_the_traceback(
    reachable: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    failure = RuntimeError("/srv/app/secret/path.py exploded: token=abc")

    class ExplodingDeployments:
        def get_deployment(self, deployment_id: str) -> None:
            raise failure

    use_ports(fake_ports(store=replace(reachable, deployments=ExplodingDeployments())))  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="triggers.guard"):
        response = call("get_deployment", route={"deployment_id": "d1"})
    assert response.status_code == 500
    body = json.loads(response.get_body())
    assert set(body) == {"type", "title", "status", "detail", "errorId"}
    assert "secret" not in response.get_body().decode() and "RuntimeError" not in response.get_body().decode()
    [record] = [r for r in caplog.records if body["errorId"] in r.getMessage()]
    assert TRACE in record.getMessage()
    assert record.exc_info is not None and record.exc_info[1] is failure


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (TransientError("Table: HTTP 503"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (Exception("The operation failed with an unexpected status code 503"), True),
        (Exception("Webhook returned unrecognized status code 500"), True),
        (Exception({"Message": "Something went wrong while processing your request"}), True),
        (Exception("No instance with ID d1 found."), False),
        (Exception("The operation failed with an unexpected status code 404"), False),
        (ValueError("event_name must be a non-empty string."), False),
        (KeyError("x"), False),
    ],
)
def test_what_counts_as_unavailable(error: Exception, unavailable: bool) -> None:
    assert is_unavailable(error) is unavailable
