"""HTTP triggers of the service overview: what each promoted service runs and how the loops see it, and the
scaling loop's recent evaluations of one service."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.domain.access import Action
from controlplane.errors import NotFound
from controlplane.services.overview import overview, scaling_history
from triggers.guard import guarded
from triggers.identity import authorized
from triggers.responses import json_response, problem

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
                wired.store.catalog,
                wired.store.deployments,
                wired.store.loop_states,
                wired.compute,
                req.params.get("environment") or None,
            )
        }
    )


@bp.route(route="services/{environment}/{service}/history", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def service_history(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/services/{environment}/{service}/history: the scaling loop's last evaluations (replicas before and
    after, metric values, the policy's min/max), oldest first, and the policy the service serves now."""
    environment, service = req.route_params["environment"], req.route_params["service"]
    store = ports().store
    try:
        body = scaling_history(store.catalog, store.deployments, store.loop_states, environment, service)
    except NotFound:
        return problem(404, "Service not found", f"no promoted service {service!r} in environment {environment!r}")
    return json_response(body)
