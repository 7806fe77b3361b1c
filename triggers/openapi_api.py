"""HTTP trigger of the API's own description: ``GET /api/openapi.json``, keyed like every other route."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from controlplane.domain.access import Action
from triggers.guard import guarded
from triggers.identity import authorized
from triggers.openapi import api_document
from triggers.responses import json_response

bp = df.Blueprint()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/openapi.json: the OpenAPI 3.1 document of every route (schemas/openapi.json is its committed copy)."""
    return json_response(api_document())
