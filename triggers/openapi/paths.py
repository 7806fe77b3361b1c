"""The operations of the HTTP API: one per httpTrigger route and method of function_app.py, its operationId the
function's name. Every operation needs a signed-in caller (security at the document's top) and may answer 401 (no
caller), 403 (the caller's app roles do not allow it) and 503 with Retry-After (storage unavailable)."""

from __future__ import annotations

from typing import Any

from controlplane.domain.deployment import DeploymentState
from controlplane.domain.event_catalog import EventType
from controlplane.domain.findings import FindingStatus
from controlplane.domain.idempotency import KEY_RULE, MAX_KEY_LENGTH
from controlplane.domain.paging import DEFAULT_LIMIT, MAX_LIMIT
from controlplane.services.deployment_detail import MAX_EXPLAINED_EVENTS
from triggers.manifest_body import JSON_TYPES, YAML_TYPES
from triggers.openapi.schemas import TRACE_ID, Schema, enum_of, ref
from triggers.query_params import MAX_VALUE_CHARS

# Error statuses by name in components.responses; each body is problem+json (RFC 9457).
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is malformed: bad syntax, a missing or invalid parameter (the problem names it)."),
    404: ("NotFound", "No such resource."),
    409: ("Conflict", "The resource's state refuses the request (the problem says which state and what to do)."),
    413: ("PayloadTooLarge", "The body is larger than the documented limit."),
    415: ("UnsupportedMediaType", "The Content-Type is neither JSON nor a YAML type."),
    422: ("UnprocessableContent", "The body parsed but is invalid; `errors` lists every failing field."),
}


def error_responses() -> dict[str, Any]:
    """components.responses: the error answers every operation refers to."""
    responses: dict[str, Any] = {
        name: {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}
        for name, description in ERRORS.values()
    }
    responses["Unauthorized"] = {
        "description": "No signed-in caller: sign in at /.auth/login/aad or send a bearer token for the app.",
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }
    responses["Forbidden"] = {
        "description": "The caller's app roles do not allow the operation; `requiredRoles` names those that do.",
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }
    responses["ServiceUnavailable"] = {
        "description": "Storage is unavailable; nothing was changed. Retry after the given seconds.",
        "headers": {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}},
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }
    return responses


def ok(schema: str, description: str, location: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ref(schema)}}}
    if location:
        response["headers"] = {
            "Location": {"required": True, "description": "the statusQueryGetUri", "schema": {"type": "string"}}
        }
    return response


def operation(
    function: str,
    summary: str,
    answers: dict[int, dict[str, Any]],
    errors: tuple[int, ...] = (),
    parameters: tuple[Schema, ...] = (),
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation: its successful ``answers`` by status, then ``errors`` from ERRORS, 401, 403 and 503."""
    responses: dict[str, Any] = {str(status): answer for status, answer in answers.items()}
    for status in errors:
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    responses["503"] = {"$ref": "#/components/responses/ServiceUnavailable"}
    described: dict[str, Any] = {"operationId": function, "summary": summary, "responses": responses}
    if parameters:
        described["parameters"] = list(parameters)
    if body:
        described["requestBody"] = body
    return described


def path_parameter(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def query(name: str, description: str, schema: Schema | None = None, required: bool = False) -> Schema:
    schema = schema or {"type": "string"}
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"  # KEY_RULE as a JSON Schema (ECMA-262) pattern
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Repeating a request with the same key answers 200 with the deployment it made; the same key "
    f"with a different manifest: 422. {KEY_RULE}, else 400.",
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
}
FILTER_TEXT = {"type": "string", "maxLength": MAX_VALUE_CHARS}
TIME = {"type": "string", "format": "date-time"}
PAGE_SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}
TOP = query("top", f"page size (default {DEFAULT_LIMIT}); not with limit", PAGE_SIZE)
LIMIT = query("limit", "page size, the older name of top", PAGE_SIZE)
CONTINUATION = query("continuation", "the previous page's continuation (send the same filters with it)")
DEPLOYMENT_ID = path_parameter("deployment_id", "the deployment's id")
FINDING_ID = path_parameter("finding_id", "the drift finding's id")
REASON = query("reason", "why the operator acts (stands in for the body's reason)")
REASON_BODY = {
    "required": False,
    "content": {"application/json": {"schema": ref("OperatorReason")}},
    "description": "why the operator acts (required here or in ?reason=, else 400); the actor is the signed-in "
    "caller, never a field",
}
OPTIONAL_REASON_BODY = {**REASON_BODY, "description": "why (optional: recorded when given)"}
MANIFEST_BODY = {
    "required": True,
    "description": "A release manifest: JSON (also with no Content-Type or a +json type), or YAML with a YAML "
    "Content-Type only; at most 256 KiB.",
    "content": {media: {"schema": ref("Release")} for media in (*JSON_TYPES, *YAML_TYPES)},
}


def signal(function: str, summary: str) -> dict[str, Any]:
    return operation(
        function,
        summary,
        {202: ok("SignalAccepted", "The signal, with its actor and reason, is on its way to the orchestration.")},
        (400, 404, 409, 413),
        (DEPLOYMENT_ID, REASON),
        REASON_BODY,
    )


def decision(function: str, summary: str, status: int) -> dict[str, Any]:
    return operation(
        function,
        summary,
        {status: ok("Finding", "The finding as decided: decidedBy is the caller; RuntimeDriftFindingDecided says it.")},
        (400, 404, 409, 413),
        (FINDING_ID, REASON),
        REASON_BODY,
    )


def paths() -> dict[str, dict[str, Any]]:
    accepted = "The deployment was accepted and its orchestration started."
    repeated = "The same Idempotency-Key and manifest again: the deployment it made."
    return {
        "/api/deployments": {
            "post": operation(
                "create_deployment",
                "Deploy a release manifest",
                {202: ok("DeploymentAccepted", accepted, location=True), 200: ok("DeploymentAccepted", repeated)},
                (400, 409, 413, 415, 422),
                (IDEMPOTENCY_KEY,),
                MANIFEST_BODY,
            ),
            "get": operation(
                "list_deployments",
                "List deployments (summaries), newest first, a page at a time",
                {200: ok("DeploymentList", "The deployments that match, and where the next page starts.")},
                (400,),
                (
                    query("environment", "only this environment", FILTER_TEXT),
                    query("service", "only deployments of this service", FILTER_TEXT),
                    query("state", "only deployments in this state", enum_of(DeploymentState)),
                    TOP,
                    LIMIT,
                    CONTINUATION,
                ),
            ),
        },
        "/api/deployments/{deployment_id}": {
            "get": operation(
                "get_deployment",
                "A deployment: state, transitions, per-service progress, traceId, and why each gate passed, "
                "failed or held",
                {
                    200: ok(
                        "DeploymentDetail",
                        f"The deployment, with its explanation (read from at most the first {MAX_EXPLAINED_EVENTS} "
                        "events of its trace; complete is false beyond them).",
                    )
                },
                (404,),
                (DEPLOYMENT_ID,),
            ),
        },
        "/api/deployments/{deployment_id}/rollback": {
            "post": operation(
                "rollback_deployment",
                "Deploy again the last Completed release before this deployment, as the caller (requestedBy)",
                {202: ok("DeploymentAccepted", accepted, location=True), 200: ok("DeploymentAccepted", repeated)},
                (400, 404, 409, 413, 422),
                (DEPLOYMENT_ID, IDEMPOTENCY_KEY, REASON),
                REASON_BODY,
            ),
        },
        "/api/deployments/{deployment_id}/approve": {
            "post": signal(
                "approve_deployment",
                "Release a manual canary pause or a promotion to prod; 403 when four-eyes (CONTROLPLANE_FOUR_EYES) "
                "holds and the caller requested the deployment",
            ),
        },
        "/api/deployments/{deployment_id}/abort": {
            "post": signal("abort_deployment", "Roll back at the next pause or approval wait"),
        },
        "/api/events": {
            "get": operation(
                "list_events",
                "A flow's events in order (traceId), or the audit of every flow, newest first, a page at a time",
                {
                    200: ok(
                        "EventsAnswer",
                        "With traceId: the trace's events, oldest first (EventList). Without: the events that match, "
                        "newest first, and where the next page starts (EventPage).",
                    )
                },
                (400,),
                (
                    query(
                        "traceId", "the flow's trace id (32 hex, not all zero); no other parameter with it", TRACE_ID
                    ),
                    query("service", "events about this service (data.service or data.services)", FILTER_TEXT),
                    query("environment", "events of this environment (data.environment)", FILTER_TEXT),
                    {
                        "name": "type",
                        "in": "query",
                        "required": False,
                        "description": "events of any of these types (repeat it, or separate with commas)",
                        "schema": {"type": "array", "items": enum_of(EventType)},
                        "style": "form",
                        "explode": True,
                    },
                    query("actor", "events an operator caused: data.actor's name or object id", FILTER_TEXT),
                    query("since", "from this time (RFC 3339, inclusive); default and minimum: the retention", TIME),
                    query("until", "up to this time (RFC 3339, exclusive); default: now", TIME),
                    TOP,
                    LIMIT,
                    CONTINUATION,
                ),
            ),
        },
        "/api/drift/findings": {
            "get": operation(
                "list_findings",
                "Drift findings, oldest first, a page at a time",
                {200: ok("FindingList", "The findings of that status (every status when none is given).")},
                (400,),
                (query("status", "only findings of this status", enum_of(FindingStatus)), TOP, LIMIT, CONTINUATION),
            ),
        },
        "/api/drift/findings/{finding_id}": {
            "get": operation(
                "get_finding", "One drift finding", {200: ok("Finding", "The finding.")}, (404,), (FINDING_ID,)
            ),
        },
        "/api/drift/findings/{finding_id}/approve": {
            "post": decision("approve_finding", "Remediate the finding; a drift run starts unless one runs", 202),
        },
        "/api/drift/findings/{finding_id}/dismiss": {
            "post": decision("dismiss_finding", "Accept the divergence; it is not raised again", 200),
        },
        "/api/drift/plan": {
            "get": operation(
                "drift_plan",
                "What the next drift run would find and do; changes nothing",
                {200: ok("DriftPlan", "The plan.")},
                (409,),  # drift detection is not configured: no desired state (the problem names the setting)
            ),
        },
        "/api/drift/runs": {
            "post": operation(
                "run_drift",
                "Run the drift loop now; RuntimeDriftRunRequested records the caller",
                {202: ok("DriftRunAccepted", "The run started.", location=True)},
                (400, 409, 413),
                (REASON,),
                OPTIONAL_REASON_BODY,
            ),
        },
        "/api/drift/runs/{instance_id}": {
            "get": operation(
                "get_drift_run",
                "A drift run's status",
                {200: ok("DriftRunStatus", "The run's runtime and custom status.")},
                (404,),
                (path_parameter("instance_id", "the drift run's instance id"),),
            ),
        },
        "/api/services": {
            "get": operation(
                "list_services",
                "What each promoted service runs and how the control loops see it, a page at a time",
                {200: ok("ServiceList", "One entry per promoted service, by environment then service.")},
                (400,),
                (query("environment", "only this environment", FILTER_TEXT), TOP, LIMIT, CONTINUATION),
            ),
        },
        "/api/me": {
            "get": operation("who_am_i", "The caller, its roles and what they allow", {200: ok("Identity", "You.")}),
        },
        "/api/openapi.json": {
            "get": operation(
                "openapi_document",
                "This document",
                {200: {"description": "The OpenAPI 3.1 document.", "content": {"application/json": {}}}},
            ),
        },
    }
