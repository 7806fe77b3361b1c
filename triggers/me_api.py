"""HTTP trigger of the caller's own identity: ``GET /api/me``, what the Runtime Center shows and offers.

App Service's ``/.auth/me`` needs its token store, which the app keeps off (``infra/easy_auth.py``); this route
reads the same principal from ``X-MS-CLIENT-PRINCIPAL`` and adds what the caller's roles allow."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from controlplane.domain.access import Action
from triggers.guard import guarded
from triggers.identity import actor_of, authorized
from triggers.responses import json_response

bp = df.Blueprint()


@bp.route(route="me", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def who_am_i(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/me: the caller's name, object id and app roles, and the actions those roles allow."""
    actor = actor_of(req)
    body = {**actor.to_dict(), "actions": [action.value for action in actor.actions()]}
    return json_response(body, headers={"Cache-Control": "no-store"})
