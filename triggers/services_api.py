"""HTTP triggers of the service overview: what each promoted service runs and how the loops see it, and the
scaling loop's recent evaluations of one service."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.domain.access import Action
from controlplane.domain.listing_pages import ServicePosition
from controlplane.domain.paging import DEFAULT_LIMIT, MAX_LIMIT
from controlplane.errors import NotFound
from controlplane.services.overview import overview, scaling_history
from triggers.guard import guarded
from triggers.identity import authorized
from triggers.query_params import QueryParams
from triggers.responses import json_response, problem

bp = df.Blueprint()


@bp.route(route="services", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def list_services(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/services?environment=&top=&continuation= : per promoted service, by environment then service, a page
    at a time: catalog entry, live revisions, monitor condition, last scaling decision. ``continuation`` is the
    previous page's, sent with the same ``environment``; null on the last page."""
    params = QueryParams(req, ("environment", "top", "limit", "continuation"))
    start = params.position(ServicePosition.from_token)
    environment = params.text("environment")
    limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)
    refused = params.problem()
    if refused is not None:
        return refused
    wired = ports()
    page = wired.store.catalog.page_catalog(environment, limit, start)
    views = overview(page.entries, wired.store.deployments, wired.store.loop_states, wired.compute)
    return json_response({"services": views, "continuation": page.next.token() if page.next else None})


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
