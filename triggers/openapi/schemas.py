"""The JSON Schemas (2020-12, as OpenAPI 3.1 uses) of what the HTTP API reads and answers.

Response schemas name the keys a client may rely on (``required``) and leave ``additionalProperties`` open, so a
key added later is no breaking change; request schemas are closed where the trigger refuses unknown input.
The release manifest's schema is the code's own (``release_json_schema``), its ``$defs`` moved to components.
"""

from __future__ import annotations

from typing import Any

from controlplane.domain.access import Action
from controlplane.domain.deployment import DeploymentState, ServicePhase
from controlplane.domain.deployment_summary import SUMMARY_PROGRESS
from controlplane.domain.findings import FindingStatus, Remedy
from controlplane.domain.manifest import release_json_schema

Schema = dict[str, Any]

TIME = {"type": "string", "format": "date-time"}
TRACE_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "the flow's W3C trace id (32 hex)"}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
ANY_OBJECT: Schema = {"type": "object"}
CONTINUATION = {
    "type": ["string", "null"],
    "description": "send it back (with the same filters) for the next page; null on the last page",
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: tuple[str, ...] | None = None, **extra: Any) -> Schema:
    """An object schema; every property is required unless ``required`` names fewer."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        **extra,
    }


def enum_of(values: type[Any]) -> Schema:
    return {"type": "string", "enum": [member.value for member in values]}


PROBLEM = obj(
    {
        "type": {"type": "string", "description": "a URI naming the problem type; about:blank when only the status"},
        "title": TEXT,
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what went wrong and how to fix it; never a trace or a path"},
        "instance": TEXT,
        "errors": {"type": "array", "items": ref("FieldError")},
    },
    required=("title", "status"),
    description="RFC 9457 problem details; extension members (e.g. runningDeploymentId) may follow.",
)

FIELD_ERROR = obj(
    {
        "path": {"type": "string", "description": "dotted path of the field, e.g. spec.services[1].image"},
        "reason": TEXT,
    }
)

TRANSITION = obj(
    {
        "from": {"oneOf": [enum_of(DeploymentState), {"type": "null"}], "description": "null for the first entry"},
        "to": enum_of(DeploymentState),
        "at": TIME,
        "reason": TEXT,
        "actor": {
            **ref("Actor"),
            "description": "the operator whose approval or abort caused it (absent: the "
            "control plane's own step; on the first entry: the requester)",
        },
    },
    required=("from", "to", "at", "reason"),
)

SERVICE_PROGRESS = obj(
    {
        "phase": enum_of(ServicePhase),
        "revision": NULLABLE_TEXT,
        "trafficPercent": {"type": "integer", "minimum": 0, "maximum": 100},
        "message": TEXT,
        "lastHealth": {"type": ["object", "null"], "description": "the latest gate probe: revision, status, at"},
        "trafficHistory": {
            "type": "array",
            "items": obj({"at": TIME, "percent": {"type": "integer", "minimum": 0, "maximum": 100}}),
            "description": "every change of the new revision's traffic share, oldest first",
        },
    }
)

DEPLOYMENT = obj(
    {
        "id": TEXT,
        "state": enum_of(DeploymentState),
        "environment": TEXT,
        "traceId": TRACE_ID,
        "release": ref("Release"),
        "transitions": {"type": "array", "items": ref("Transition"), "minItems": 1},
        "services": {"type": "object", "additionalProperties": ref("ServiceProgress")},
        "requestedBy": {
            "oneOf": [ref("Actor"), {"type": "null"}],
            "description": "who asked for it (a rollback's caller for a rollback); null: the control plane itself",
        },
        "rollbackOf": {**NULLABLE_TEXT, "description": "the deployment this one rolls back, if it is a rollback"},
        "fourEyes": {"type": "boolean", "description": "approving it needs someone other than requestedBy"},
    }
)

DEPLOYMENT_SUMMARY = obj(
    {
        **{
            key: DEPLOYMENT["properties"][key] for key in DEPLOYMENT["properties"] if key not in ("release", "services")
        },
        "release": obj(
            {"apiVersion": TEXT, "kind": TEXT, "metadata": ref("Metadata")},
            description="the release's identity; GET /api/deployments/{id} answers the whole manifest",
        ),
        "services": {
            "type": "object",
            "additionalProperties": obj({key: SERVICE_PROGRESS["properties"][key] for key in SUMMARY_PROGRESS}),
            "description": "each service's progress without its probe and traffic history",
        },
        "createdAt": TIME,
        "updatedAt": TIME,
    },
    description="A deployment as the list shows it: every key of a Deployment, the heavy values cut down.",
)

STATUS_URL = {
    "type": "string",
    "format": "uri",
    "description": "<base>/api/deployments/{id}: the deployment's status, with no key (poll it with your key)",
}

DEPLOYMENT_ACCEPTED = obj(
    {
        "deploymentId": TEXT,
        "traceId": TRACE_ID,
        "state": enum_of(DeploymentState),
        "statusQueryGetUri": STATUS_URL,
        "rollbackOf": {"type": "string", "description": "(rollback only) the deployment rolled back"},
        "restores": {"type": "string", "description": "(rollback only) the Completed deployment deployed again"},
    },
    required=("deploymentId", "traceId", "state", "statusQueryGetUri"),
)

REASON_TEXT = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1000,
    "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
    "description": "why: 1..1000 characters, not blank, no control characters",
}

OPERATOR_REASON = obj(
    {
        "reason": REASON_TEXT,
        "by": {
            "type": "string",
            "deprecated": True,
            "description": "ignored when it names the signed-in caller (name or object id), else 400: the actor is "
            "always the caller, never a field",
        },
    },
    required=(),
    additionalProperties=False,
    description="Why the operator acts; the query parameter reason may stand in for the body's (the body wins). "
    "Who acts is the signed-in caller.",
)

SIGNAL_ACCEPTED = obj(
    {
        "deploymentId": TEXT,
        "signal": {"type": "string", "enum": ["approve", "abort"]},
        "actor": ref("Actor"),
        "reason": TEXT,
    }
)

ACTOR = obj(
    {"name": TEXT, "objectId": TEXT, "roles": {"type": "array", "items": {"type": "string"}}},
    description="An authenticated caller: its name, directory object id and app roles.",
)
IDENTITY = obj(
    {
        "name": TEXT,
        "objectId": TEXT,
        "roles": {"type": "array", "items": {"type": "string"}},
        "actions": {"type": "array", "items": enum_of(Action)},
    },
    description="The caller and the actions its app roles allow.",
)

ENVELOPE = obj(
    {
        "specversion": {"const": "1.0"},
        "id": TEXT,
        "source": TEXT,
        "type": TEXT,
        "subject": TEXT,
        "time": TIME,
        "datacontenttype": TEXT,
        "data": ANY_OBJECT,
        "traceid": TRACE_ID,
        "traceparent": TEXT,
        "correlationid": TEXT,
        "causationid": TEXT,
    },
    required=("specversion", "id", "source", "type", "time", "data", "traceid", "correlationid"),
    description="A CloudEvents 1.0 structured event with the traceid/traceparent/correlationid/causationid extensions.",
)

FINDING = obj(
    {
        "id": TEXT,
        "environment": TEXT,
        "service": TEXT,
        "kind": {"type": "string", "description": "mismatch, missing, unmanaged, quarantined, infrastructure"},
        "remedy": enum_of(Remedy),
        "diff": ANY_OBJECT,
        "status": enum_of(FindingStatus),
        "firstSeen": TIME,
        "lastSeen": TIME,
        "desiredRevision": TEXT,
        "deploymentId": NULLABLE_TEXT,
        "note": TEXT,
        "traceId": TEXT,
        "decidedBy": {
            "oneOf": [ref("Actor"), {"type": "null"}],
            "description": "the operator who last approved or dismissed it",
        },
        "decisionReason": {"type": "string", "description": "why they did"},
        "remediation": {"type": "string", "description": "(approve only) whether a drift run started now"},
    },
    required=("id", "environment", "service", "kind", "remedy", "diff", "status", "firstSeen", "lastSeen"),
)

PLAN_ENTRY = obj(
    {
        "findingId": TEXT,
        "environment": TEXT,
        "service": TEXT,
        "kind": TEXT,
        "remedy": enum_of(Remedy),
        "diff": ANY_OBJECT,
        "status": enum_of(FindingStatus),
        "new": {"type": "boolean"},
        "action": {"type": "string", "description": "what the next run would do about it"},
    }
)

DRIFT_PLAN = obj(
    {
        "desiredRevision": TEXT,
        "findings": {"type": "array", "items": ref("DriftPlanEntry")},
        "resolves": {"type": "array", "items": TEXT, "description": "stored findings the next run resolves"},
    }
)

DRIFT_RUN_ACCEPTED = obj(
    {
        "instanceId": TEXT,
        "statusQueryGetUri": {
            "type": "string",
            "format": "uri",
            "description": "<base>/api/drift/runs/{instanceId}, with no key",
        },
        "traceId": {**TRACE_ID, "description": "the trace of the RuntimeDriftRunRequested naming the caller"},
        "actor": ref("Actor"),
    }
)

DRIFT_RUN_STATUS = obj(
    {
        "instanceId": TEXT,
        "runtimeStatus": {
            "type": "string",
            "enum": ["Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Terminated", "Suspended"],
        },
        "customStatus": {"description": "the run's progress as the drift orchestrator reports it"},
        "createdTime": TIME,
        "lastUpdatedTime": TIME,
    },
    required=("runtimeStatus", "createdTime", "lastUpdatedTime"),
)

LIVE_WORKLOAD = obj(
    {
        "revision": TEXT,
        "image": TEXT,
        "replicas": {"type": "integer", "minimum": 0},
        "configHash": TEXT,
        "trafficPercent": {"type": "integer", "minimum": 0, "maximum": 100},
        "managed": {"type": "boolean"},
    }
)

SERVICE_OVERVIEW = obj(
    {
        "environment": TEXT,
        "service": TEXT,
        "deploymentId": TEXT,
        "revision": TEXT,
        "image": TEXT,
        "replicas": {"type": "integer", "minimum": 0},
        "configHash": TEXT,
        "updatedAt": TIME,
        "live": {"type": "array", "items": ref("LiveWorkload")},
        "unmanaged": {"type": "array", "items": TEXT},
        "monitor": {"type": ["object", "null"], "description": "the failure monitor's condition of the service"},
        "scaling": {"type": ["object", "null"], "description": "the scaling loop's last decision"},
        "lastGate": {"type": ["object", "null"], "description": "the promoting deployment's last gate probe"},
    }
)


def listing(key: str, item: str, **more: Schema) -> Schema:
    return obj({key: {"type": "array", "items": ref(item)}, **more})


def component_schemas() -> dict[str, Schema]:
    """Every named schema: the API's own and the release manifest's (``Release`` and its ``$defs``)."""
    release = release_json_schema()
    release.pop("$schema")  # the document's dialect (jsonSchemaDialect) is the same 2020-12
    manifest = {"Release": release, **release.pop("$defs")}
    own = {
        "Problem": PROBLEM,
        "FieldError": FIELD_ERROR,
        "Deployment": DEPLOYMENT,
        "DeploymentDetail": {
            "allOf": [ref("Deployment"), obj({"explanation": ref("Explanation")})],
            "description": "A deployment with the explanation of its gates.",
        },
        "Transition": TRANSITION,
        "ServiceProgress": SERVICE_PROGRESS,
        "DeploymentSummary": DEPLOYMENT_SUMMARY,
        "DeploymentList": listing("deployments", "DeploymentSummary", continuation=CONTINUATION),
        "DeploymentAccepted": DEPLOYMENT_ACCEPTED,
        "OperatorReason": OPERATOR_REASON,
        "Actor": ACTOR,
        "Identity": IDENTITY,
        "SignalAccepted": SIGNAL_ACCEPTED,
        "Envelope": ENVELOPE,
        "EventList": listing("events", "Envelope", traceId=TRACE_ID),
        "EventPage": listing(
            "events",
            "Envelope",
            continuation=CONTINUATION,
            since={"type": "string", "format": "date-time", "description": "the range's start used (inclusive)"},
            until={"type": "string", "format": "date-time", "description": "the range's end used (exclusive)"},
        ),
        "EventsAnswer": {"oneOf": [ref("EventList"), ref("EventPage")]},
        "Finding": FINDING,
        "FindingList": listing("findings", "Finding", continuation=CONTINUATION),
        "DriftPlan": DRIFT_PLAN,
        "DriftPlanEntry": PLAN_ENTRY,
        "DriftRunAccepted": DRIFT_RUN_ACCEPTED,
        "DriftRunStatus": DRIFT_RUN_STATUS,
        "LiveWorkload": LIVE_WORKLOAD,
        "ServiceOverview": SERVICE_OVERVIEW,
        "ServiceList": listing("services", "ServiceOverview", continuation=CONTINUATION),
    }
    clash = manifest.keys() & own.keys()
    if clash:
        raise ValueError(f"schema names used twice: {sorted(clash)}")
    return _moved_refs({**manifest, **own})


def _moved_refs(node: Any) -> Any:
    """The release schema's references (``$ref`` and discriminator mappings: ``#/$defs/X``), pointed at
    ``#/components/schemas/X``."""
    if isinstance(node, dict):
        return {key: _moved_refs(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_moved_refs(item) for item in node]
    if isinstance(node, str) and node.startswith("#/$defs/"):
        return node.replace("#/$defs/", "#/components/schemas/", 1)
    return node
