"""HTTP trigger of the service overview: what each promoted service runs and how the loops see it."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.domain.access import Action
from controlplane.services.overview import overview
from triggers.guard import guarded
from triggers.identity import authorized
from triggers.responses import json_response

bp = df.Blueprint()


@bp.route(route="services", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def list_services(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/services?environment=: catalog entry, live revisions, monitor condition, last scaling decision."""
    wired = ports()
    return json_response(
        {
            "services": overview(
                wired.store.catalog, wired.store.loop_states, wired.compute, req.params.get("environment") or None
            )
        }
    )
