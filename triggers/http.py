"""HTTP triggers of deployments: parse the request, call the core, answer JSON (problem+json on
errors)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.domain.access import Action
from controlplane.domain.approvals import FOUR_EYES_RULE, FOUR_EYES_SETTING, approval_refusal, four_eyes_applies
from controlplane.domain.deployment import Deployment, DeploymentState, Origin
from controlplane.domain.deployment_summary import DeploymentPosition, DeploymentQuery
from controlplane.domain.manifest import Release
from controlplane.domain.paging import DEFAULT_LIMIT, MAX_LIMIT
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.domain.workflow.signals import ABORT, APPROVE, OperatorSignal
from controlplane.errors import NotFound
from controlplane.services import deployment_detail, deployments
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from triggers.guard import guarded
from triggers.identity import actor_of, authorized
from triggers.links import api_url
from triggers.manifest_body import idempotency_key, read_release
from triggers.operator_input import required_reason
from triggers.query_params import QueryParams
from triggers.reconcile import reconcile_deployment
from triggers.responses import json_response, problem

bp = df.Blueprint()


@bp.route(route="deployments", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
@guarded
@authorized(Action.DEPLOY)
async def create_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/deployments: a release manifest (JSON, or YAML under a YAML Content-Type). 202 with the
    deployment and its status URL; refusals as ``triggers.manifest_body`` lists them."""
    key = idempotency_key(req)
    if isinstance(key, func.HttpResponse):
        return key
    release = await read_release(req)
    if isinstance(release, func.HttpResponse):
        return release
    return await _start(req, client, release, key, Origin(actor_of(req)))


async def _start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, release: Release, key: str | None, origin: Origin
) -> func.HttpResponse:
    """Accept a release from ``origin`` and start its orchestration: 202 (200 for a repeated Idempotency-Key),
    409 if one of its services is busy, 422 if the key started another release. Only the request that stored
    the deployment starts it, so concurrent repeats never start it twice. Whether approving it needs four eyes
    is decided here, from the setting and the release's environment, and kept in the record."""
    wired = ports()
    origin = replace(origin, four_eyes=four_eyes_applies(release, wired.settings.four_eyes))
    try:
        store = wired.store
        accepted = await asyncio.to_thread(
            deployments.accept, store.deployments, store.claims, release, datetime.now(UTC), key, None, origin
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


@bp.route(route="deployments/{deployment_id}/rollback", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
@guarded
@authorized(Action.ROLLBACK)
async def rollback_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/deployments/{id}/rollback {"reason"} (or ?reason=): deploy again the last Completed release
    before this one; the new deployment's requester is the caller, and it names the one it rolls back."""
    deployment_id = req.route_params["deployment_id"]
    key = idempotency_key(req)
    if isinstance(key, func.HttpResponse):
        return key
    actor = actor_of(req)
    reason = required_reason(req, actor, "rollback")
    if isinstance(reason, func.HttpResponse):
        return reason
    try:
        await reconcile_deployment(client, deployment_id)  # one nobody runs any more ends (409 below) first
        previous = await asyncio.to_thread(deployments.previous_completed, ports().store.deployments, deployment_id)
    except deployments.NotRollbackable as refused:
        return problem(409, "Not rollbackable", str(refused))
    except NotFound as missing:
        return problem(404, "Nothing to roll back to", str(missing))
    origin = Origin(actor, f"rollback of {deployment_id} by {actor.name}: {reason}", rollback_of=deployment_id)
    response = await _start(req, client, previous.release, key, origin)
    if response.status_code == 202:
        body = {**json.loads(response.get_body()), "rollbackOf": deployment_id, "restores": previous.id}
        return json_response(body, 202, {"Location": body["statusQueryGetUri"]})
    return response


@bp.route(route="deployments", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
async def list_deployments(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/deployments?environment=&service=&state=&top=&continuation= : summaries, newest first, a page at
    a time (``top``, or ``limit``, deployments a page; ``continuation`` is the previous page's, sent with the same
    filters; null on the last page). ``GET /api/deployments/{id}`` answers a whole deployment.

    A coroutine so that the Python worker runs it on its event loop rather than its thread pool for sync functions
    (six threads on two cores): every request under way then shares the listing's version read
    (``adapters.storage.listing_cache``), however many arrive at once."""
    params = QueryParams(req, ("environment", "service", "state", "top", "limit", "continuation"))
    chosen = params.choice("state", [state.value for state in DeploymentState])
    start = params.position(DeploymentPosition.from_token)
    environment, service = params.text("environment"), params.text("service")
    limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)
    refused = params.problem()
    if refused is not None:
        return refused
    state = DeploymentState(chosen) if chosen else None
    query = DeploymentQuery(environment, service, state, limit, start, datetime.now(UTC))
    page = await ports().store.deployments.page_deployments(query)
    return func.HttpResponse(page.encoded, status_code=200, mimetype="application/json")


@bp.route(route="deployments/{deployment_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def get_deployment(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/deployments/{id}: state, transition history, per-service progress, traceId, and the explanation
    of each gate's verdict (``services.deployment_detail``)."""
    deployment_id = req.route_params["deployment_id"]
    store = ports().store
    try:
        return json_response(deployment_detail.deployment_detail(store.deployments, store.event_log, deployment_id))
    except NotFound:
        return problem(404, "Deployment not found", f"no deployment with id {deployment_id!r}")


@bp.route(route="deployments/{deployment_id}/approve", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
@guarded
@authorized(Action.APPROVE)
async def approve_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/deployments/{id}/approve {"reason"} (or ?reason=): release a manual canary pause or a prod
    promotion, as the signed-in caller; 403 when four-eyes applies and the caller requested the deployment."""
    return await _signal(req, client, APPROVE)


@bp.route(route="deployments/{deployment_id}/abort", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
@guarded
@authorized(Action.ABORT)
async def abort_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/deployments/{id}/abort {"reason"} (or ?reason=): roll back at the next pause or approval wait."""
    return await _signal(req, client, ABORT)


async def _signal(req: func.HttpRequest, client: df.DurableOrchestrationClient, signal: str) -> func.HttpResponse:
    """202 once the signal is raised; 400 naming the field for a bad reason (or a ``by`` that is not the
    caller); 409 when the deployment ended, or its orchestration did (the deployment is then ended on the spot
    and the 409 says how); 403 when an approval breaks four-eyes (``domain.approvals``)."""
    deployment_id = req.route_params["deployment_id"]
    actor = actor_of(req)
    reason = required_reason(req, actor, signal)
    if isinstance(reason, func.HttpResponse):
        return reason
    operator = OperatorSignal(actor, reason)
    try:
        deployment = await asyncio.to_thread(ports().store.deployments.get_deployment, deployment_id)
        if deployment.is_terminal:
            return _finished(deployment)
        refusal = approval_refusal(actor, deployment.requested_by, deployment.four_eyes) if signal == APPROVE else None
        if refusal is not None:
            return problem(403, "Four-eyes", refusal, rule=FOUR_EYES_RULE, setting=FOUR_EYES_SETTING)
        try:
            await client.raise_event(deployment_id, signal, operator.to_dict())
        except Exception:  # the SDK raises a bare Exception: the instance is gone (404) or has ended (410)
            deployment = await reconcile_deployment(client, deployment_id)
            if not deployment.is_terminal:
                raise
    except NotFound:
        return problem(404, "Deployment not found", f"no deployment with id {deployment_id!r}")
    if deployment.is_terminal:
        return _finished(deployment)
    return json_response({"deploymentId": deployment_id, "signal": signal, **operator.to_dict()}, 202)


def _finished(deployment: Deployment) -> func.HttpResponse:
    last = deployment.transitions[-1]
    detail = f"deployment {deployment.id} is {deployment.state.value}" + (f": {last.reason}" if last.reason else "")
    return problem(409, "Deployment finished", detail, state=deployment.state.value, reason=last.reason)
