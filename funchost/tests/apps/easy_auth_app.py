"""A Function App for the Easy Auth tests: an anonymous route that echoes the headers it receives."""

from __future__ import annotations

import json

import azure.functions as func

app = func.FunctionApp()


@app.route(route="headers", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def headers(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.headers)), mimetype="application/json")
