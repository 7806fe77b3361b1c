"""HTTP triggers of the drift loop: findings, operator decisions, the dry-run plan, a run on demand."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.domain.access import Action
from controlplane.domain.findings import Decision, FindingStatus
from controlplane.domain.listing_pages import FindingPosition
from controlplane.domain.paging import DEFAULT_LIMIT, MAX_LIMIT
from controlplane.errors import NotConfigured, NotFound, PermanentError
from controlplane.services.drift.decisions import Undecidable, decide, record_run_request
from controlplane.services.drift.views import plan
from orchestrators.drift import DRIFT_ORCHESTRATOR, INSTANCE_ID
from triggers.guard import guarded
from triggers.identity import actor_of, authorized
from triggers.links import api_url
from triggers.operator_input import optional_reason, required_reason
from triggers.query_params import QueryParams
from triggers.responses import json_response, problem
from triggers.singleton import start_singleton

bp = df.Blueprint()


@bp.route(route="drift/findings", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def list_findings(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/drift/findings?status=Open&top=&continuation= : findings oldest first (every status when none is
    given), a page at a time; ``continuation`` is the previous page's, sent with the same ``status``."""
    params = QueryParams(req, ("status", "top", "limit", "continuation"))
    chosen = params.choice("status", [status.value for status in FindingStatus])
    start = params.position(FindingPosition.from_token)
    limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)
    refused = params.problem()
    if refused is not None:
        return refused
    status = FindingStatus(chosen) if chosen else None
    page = ports().store.findings.page_findings(status, limit, start)
    body = {
        "findings": [finding.to_dict() for finding in page.findings],
        "continuation": page.next.token() if page.next else None,
    }
    return json_response(body)


@bp.route(route="drift/findings/{finding_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def get_finding(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/drift/findings/{id}: one finding, its diff, status and corrective deployment."""
    finding_id = req.route_params["finding_id"]
    try:
        return json_response(ports().store.findings.get_finding(finding_id).to_dict())
    except NotFound:
        return problem(404, "Finding not found", f"no drift finding with id {finding_id!r}")


@bp.route(route="drift/findings/{finding_id}/approve", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
@guarded
@authorized(Action.DECIDE_FINDING)
async def approve_finding(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/drift/findings/{id}/approve {"reason"} (or ?reason=): remediate it; a drift run starts now
    unless one is running."""
    return await _decide(req, client, Decision.APPROVE)


@bp.route(route="drift/findings/{finding_id}/dismiss", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
@guarded
@authorized(Action.DECIDE_FINDING)
async def dismiss_finding(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/drift/findings/{id}/dismiss {"reason"} (or ?reason=): accept the divergence; it is not raised
    again."""
    return await _decide(req, client, Decision.DISMISS)


async def _decide(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, decision: Decision
) -> func.HttpResponse:
    """The caller's ``decision`` for the request's reason (required: 400 without one), recorded on the finding
    (``decidedBy``) and emitted (RuntimeDriftFindingDecided)."""
    finding_id = req.route_params["finding_id"]
    actor = actor_of(req)
    reason = required_reason(req, actor, f"{decision} of a finding")
    if isinstance(reason, func.HttpResponse):
        return reason
    wired = ports()
    store, source = wired.store, f"{wired.settings.event_source}/drift"
    try:
        finding = await asyncio.to_thread(
            decide,
            store.findings,
            store.event_log,
            wired.events,
            source,
            finding_id,
            decision,
            datetime.now(UTC),
            actor,
            reason,
        )
    except NotFound:
        return problem(404, "Finding not found", f"no drift finding with id {finding_id!r}")
    except Undecidable as refused:
        return problem(409, f"Cannot {decision} this finding", str(refused))
    body = finding.to_dict()
    if decision is Decision.APPROVE:
        started = await start_singleton(client, DRIFT_ORCHESTRATOR, INSTANCE_ID)
        body["remediation"] = "a drift run started" if started else "queued: the running drift run or the next one"
    return json_response(body, 202 if decision is Decision.APPROVE else 200)


@bp.route(route="drift/plan", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def drift_plan(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/drift/plan: what the next drift run would find and do; changes nothing.

    Without a desired state there is nothing to plan against: 409 naming the setting (the app's configuration,
    not the request, is what must change, and retrying will not help, so neither 422 nor 503). A desired state
    that is configured but cannot be read is a 409 too; its cause, which names the source, is only logged.
    """
    wired = ports()
    store = wired.store
    try:
        desired = wired.desired_state
    except NotConfigured as missing:
        return problem(409, "Drift detection is not configured", str(missing), setting="CONTROLPLANE_DESIRED_STATE")
    try:
        desired.revision()  # read first, so that its failures are told apart from the inventory's
    except (NotFound, PermanentError) as unreadable:  # no such source, ref or folder; an invalid manifest in it
        logging.getLogger(__name__).warning("drift plan: the desired state cannot be read: %s", unreadable)
        return problem(
            409,
            "Desired state unreadable",
            "the desired state (CONTROLPLANE_DESIRED_STATE, _REF, _PATH) could not be read: a source, ref or "
            "folder that does not exist, or an invalid manifest in it; the host log names the cause",
        )
    findings, catalog, deployments, quarantine = store.findings, store.catalog, store.deployments, store.quarantine
    view = plan(findings, catalog, deployments, quarantine, desired, wired.compute, wired.provisioner)
    return json_response(view)


@bp.route(route="drift/runs", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
@guarded
@authorized(Action.RUN_DRIFT)
async def run_drift(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/drift/runs, optionally {"reason"} (or ?reason=): run the drift loop now (202, and
    RuntimeDriftRunRequested names the caller), or 409 while a run is in flight (nothing emitted)."""
    actor = actor_of(req)
    reason = optional_reason(req, actor, "drift run")
    if isinstance(reason, func.HttpResponse):
        return reason
    if not await start_singleton(client, DRIFT_ORCHESTRATOR, INSTANCE_ID):
        return problem(409, "A drift run is in flight", f"instance {INSTANCE_ID} is running; try again when it ends")
    wired = ports()
    source = f"{wired.settings.event_source}/drift"
    traceid = await asyncio.to_thread(
        record_run_request, wired.store.event_log, wired.events, source, INSTANCE_ID, datetime.now(UTC), actor, reason
    )
    status_url = api_url(req, "drift", "runs", INSTANCE_ID)
    body = {"instanceId": INSTANCE_ID, "statusQueryGetUri": status_url, "traceId": traceid, "actor": actor.to_dict()}
    return json_response(body, 202, {"Location": status_url})


@bp.route(route="drift/runs/{instance_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
@guarded
@authorized(Action.READ)
async def get_drift_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """GET /api/drift/runs/{id}: a drift run's runtime status and custom status (its step and counts); never
    its input or output, so no error text either. 404 for any instance that is not a drift run."""
    instance_id = req.route_params["instance_id"]
    status = await client.get_status(instance_id, show_input=False)
    if status.instance_id is None or (status.name or "").lower() != DRIFT_ORCHESTRATOR.lower():
        return problem(404, "Drift run not found", f"no drift run with instance id {instance_id!r}")
    body = {
        "instanceId": status.instance_id,
        "runtimeStatus": status.runtime_status.value if status.runtime_status else None,
        "customStatus": status.custom_status,
        "createdTime": _iso(status.created_time),
        "lastUpdatedTime": _iso(status.last_updated_time),
    }
    return json_response(body)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
