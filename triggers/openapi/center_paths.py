"""The operations of the Runtime Center (the page and its assets) and of a service's scaling history, the data
the page plots; merged into the document's paths by ``triggers.openapi.api_document``."""

from __future__ import annotations

from typing import Any

from triggers.center.page import ASSET_TYPES
from triggers.openapi.paths import operation, path_parameter
from triggers.openapi.schemas import NULLABLE_TEXT, TEXT, TIME, obj

COUNT = {"type": "integer", "minimum": 0}
NUMBER_OR_NULL = {"type": ["number", "null"]}
EVALUATION = obj(
    {
        "at": TIME,
        "current": {**COUNT, "description": "replicas before the evaluation"},
        "replicas": {**COUNT, "description": "replicas decided (a change when they differ from current)"},
        "minReplicas": COUNT,
        "maxReplicas": COUNT,
        "metrics": {"type": "object", "additionalProperties": NUMBER_OR_NULL, "description": "null: no data"},
        "rule": NULLABLE_TEXT,
        "reason": TEXT,
    }
)
RULE = obj({"metric": TEXT, "target": {"type": "number"}})
POLICY = obj({"minReplicas": COUNT, "maxReplicas": COUNT, "rules": {"type": "array", "items": RULE}})
SERVICE_HISTORY = obj(
    {
        "environment": TEXT,
        "service": TEXT,
        "revision": TEXT,
        "policy": {"oneOf": [POLICY, {"type": "null"}], "description": "the scaling policy served now; null: none"},
        "evaluations": {"type": "array", "items": EVALUATION, "description": "the last evaluations, oldest first"},
    }
)
PAGE_HEADER_NAMES = ("Content-Security-Policy", "X-Frame-Options", "Cache-Control")


def center_paths() -> dict[str, dict[str, Any]]:
    required = {"required": True, "schema": {"type": "string"}}
    page = {
        "description": "The page (HTML5; scripts and styles only from this app, never framed, never cached).",
        "headers": {name: required for name in PAGE_HEADER_NAMES},
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
    sign_in = {
        "description": "No session: sign in first (Location: /.auth/login/aad, coming back to the page).",
        "headers": {"Location": required},
    }
    asset = {
        "description": "The asset.",
        "content": {media.split(";")[0]: {"schema": {"type": "string"}} for media in sorted(set(ASSET_TYPES.values()))},
    }
    history = {"description": "The history.", "content": {"application/json": {"schema": SERVICE_HISTORY}}}
    return {
        "/api/center": {
            "get": operation("center_page", "The Runtime Center, the operators' web page", {200: page, 302: sign_in}),
        },
        "/api/center/assets/{name}": {
            "get": operation(
                "center_asset",
                "A script or the style sheet of the Runtime Center",
                {200: asset},
                (404,),
                (path_parameter("name", f"one of {', '.join(sorted(ASSET_TYPES))}"),),
            ),
        },
        "/api/services/{environment}/{service}/history": {
            "get": operation(
                "service_history",
                "A service's last scaling evaluations: replicas, metric values, the policy's bounds",
                {200: history},
                (404,),
                (path_parameter("environment", "the environment"), path_parameter("service", "the service")),
            ),
        },
    }
