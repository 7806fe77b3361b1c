"""HTTP triggers: parse the request, call the core, answer JSON (problem+json on errors)."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from controlplane.bootstrap import services
from controlplane.errors import NotFound

bp = func.Blueprint()


def _json(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


def _problem(status: int, title: str, detail: str) -> func.HttpResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/problem+json")


@bp.route(route="deployments", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def list_deployments(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/deployments?environment=&service= : newest first."""
    found = services().store.list_deployments(
        environment=req.params.get("environment") or None, service=req.params.get("service") or None
    )
    return _json({"deployments": [deployment.to_dict() for deployment in found]})


@bp.route(route="deployments/{deployment_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def get_deployment(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/deployments/{id}: state, transition history, per-service progress, traceId."""
    deployment_id = req.route_params["deployment_id"]
    try:
        return _json(services().store.get_deployment(deployment_id).to_dict())
    except NotFound:
        return _problem(404, "Deployment not found", f"no deployment with id {deployment_id!r}")
