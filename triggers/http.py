"""HTTP triggers of deployments and events: parse the request, call the core, answer JSON (problem+json on
errors)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.domain.manifest import Release
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.errors import NotFound
from controlplane.services import deployments
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from triggers.guard import guarded
from triggers.links import api_url
from triggers.manifest_body import idempotency_key, read_release
from triggers.responses import json_response, problem

bp = df.Blueprint()


@bp.route(route="deployments", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@guarded
async def create_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/deployments: a release manifest (JSON, or YAML under a YAML Content-Type). 202 with the
    deployment and its status URL; refusals as ``triggers.manifest_body`` lists them."""
    key = idempotency_key(req)
    if isinstance(key, func.HttpResponse):
        return key
    release = await read_release(req)
    if isinstance(release, func.HttpResponse):
        return release
    return await _start(req, client, release, key)


async def _start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, release: Release, key: str | None
) -> func.HttpResponse:
    """Accept a release and start its orchestration: 202 (200 for a repeated Idempotency-Key), 409 if one of
    its services is busy, 422 if the key started another release. Only the request that stored the deployment
    starts it, so concurrent repeats never start it twice."""
    try:
        store = ports().store
        accepted = await asyncio.to_thread(
            deployments.accept, store.deployments, store.claims, release, datetime.now(UTC), key
        )
    except deployments.ServiceBusy as busy:
        return problem(409, "A deployment is already running", str(busy), runningDeploymentId=busy.holder)
    except deployments.KeyReused as reused:
        return problem(
            422, "Idempotency-Key reused with a different manifest", str(reused), deploymentId=reused.deployment_id
        )
    deployment = accepted.deployment
    if accepted.created:
        await client.start_new(DEPLOYMENT_ORCHESTRATOR, deployment.id, DeploymentStart.of(deployment).to_dict())
    # The product's own status route, no key in it: the caller polls it with the key it POSTed with.
    status_url = api_url(req, "deployments", deployment.id)
    body = {
        "deploymentId": deployment.id,
        "traceId": deployment.traceid,
        "state": deployment.state.value,
        "statusQueryGetUri": status_url,
    }
    return json_response(body, 202 if accepted.created else 200, {"Location": status_url})


@bp.route(route="deployments/{deployment_id}/rollback", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@guarded
async def rollback_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/deployments/{id}/rollback: deploy again the last Completed release before this one."""
    deployment_id = req.route_params["deployment_id"]
    key = idempotency_key(req)
    if isinstance(key, func.HttpResponse):
        return key
    try:
        previous = await asyncio.to_thread(deployments.previous_completed, ports().store.deployments, deployment_id)
    except deployments.NotRollbackable as refused:
        return problem(409, "Not rollbackable", str(refused))
    except NotFound as missing:
        return problem(404, "Nothing to roll back to", str(missing))
    response = await _start(req, client, previous.release, key)
    if response.status_code == 202:
        body = {**json.loads(response.get_body()), "rollbackOf": deployment_id, "restores": previous.id}
        return json_response(body, 202, {"Location": body["statusQueryGetUri"]})
    return response


@bp.route(route="deployments", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@guarded
def list_deployments(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/deployments?environment=&service= : newest first."""
    found = ports().store.deployments.list_deployments(
        environment=req.params.get("environment") or None, service=req.params.get("service") or None
    )
    return json_response({"deployments": [deployment.to_dict() for deployment in found]})


@bp.route(route="deployments/{deployment_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@guarded
def get_deployment(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/deployments/{id}: state, transition history, per-service progress, traceId."""
    deployment_id = req.route_params["deployment_id"]
    try:
        return json_response(ports().store.deployments.get_deployment(deployment_id).to_dict())
    except NotFound:
        return problem(404, "Deployment not found", f"no deployment with id {deployment_id!r}")


@bp.route(route="deployments/{deployment_id}/approve", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@guarded
async def approve_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/deployments/{id}/approve: release a manual canary pause or blue-green promotion."""
    return await _signal(req, client, "approve")


@bp.route(route="deployments/{deployment_id}/abort", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@guarded
async def abort_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/deployments/{id}/abort?reason=: roll back at the next pause or approval wait."""
    return await _signal(req, client, "abort")


async def _signal(req: func.HttpRequest, client: df.DurableOrchestrationClient, signal: str) -> func.HttpResponse:
    deployment_id = req.route_params["deployment_id"]
    try:
        deployment = await asyncio.to_thread(ports().store.deployments.get_deployment, deployment_id)
    except NotFound:
        return problem(404, "Deployment not found", f"no deployment with id {deployment_id!r}")
    if deployment.is_terminal:
        return problem(409, "Deployment finished", f"deployment {deployment_id} is {deployment.state.value}")
    await client.raise_event(deployment_id, signal, req.params.get("reason") or "")
    return json_response({"deploymentId": deployment_id, "signal": signal}, 202)


@bp.route(route="events", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@guarded
def list_events(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/events?traceId=: the flow's envelopes (CloudEvents JSON) in order."""
    traceid = req.params.get("traceId")
    if not traceid:
        return problem(400, "traceId required", "query parameter traceId: the flow's 32-hex trace id")
    events = [envelope.to_dict() for envelope in ports().store.event_log.events_for_trace(traceid)]
    return json_response({"traceId": traceid, "events": events})
