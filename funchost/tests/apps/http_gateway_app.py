"""A small Function App for the HTTP gateway tests: one function per behaviour under test."""

from __future__ import annotations

import json
import threading

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp()
released = threading.Event()


def _json(body: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


@app.route(route="hello", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name", "world")
    return func.HttpResponse(f"hello {name}", status_code=203, headers={"X-Greeting": "yes"})


@app.route(route="items/{id:int}/{part?}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route": dict(req.route_params), "url": req.url, "agent": req.headers.get("user-agent")})


@app.route(route="items/latest", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def latest_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"latest": True})


@app.route(route="names/{name:alpha}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"name": req.route_params["name"]})


@app.route(route="files/{*rest}", auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"rest": req.route_params.get("rest"), "method": req.method})


@app.route(route="echo", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"received": req.get_json(), "tag": req.params.get("tag")}, status=201)


@app.route(route="echo", methods=["DELETE"], auth_level=func.AuthLevel.FUNCTION)
def delete_echo(req: func.HttpRequest):
    """Returns None, which the worker cannot send as an HTTP response (no annotation: ``-> None`` fails indexing)."""
    return None


@app.route(route="stats", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_stats(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"admin": True})


@app.route(route="report", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def report(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("a;b", headers={"Content-Type": "text/csv; charset=latin-1"})


@app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("the gauge broke")


@app.route(auth_level=func.AuthLevel.ANONYMOUS)
def unrouted(req: func.HttpRequest) -> str:
    """No route declared: served at /api/unrouted, returning a bare string."""
    return "served by name"


@app.route(route="wait", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def wait(req: func.HttpRequest) -> func.HttpResponse:
    """Blocks its thread until /api/release is called: only answers if sync functions leave the loop free."""
    return func.HttpResponse("released" if released.wait(timeout=10) else "timed out")


@app.route(route="release", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def release(req: func.HttpRequest) -> func.HttpResponse:
    released.set()
    return func.HttpResponse("ok")


@app.route(route="hub", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def hub(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    # The SDK declares DurableOrchestrationClient.task_hub_name but never sets it; the bindings carry the hub.
    return _json(
        {"taskHub": client._orchestration_bindings.task_hub_name, "rpc": client._orchestration_bindings.rpc_base_url}
    )
