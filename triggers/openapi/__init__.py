"""The OpenAPI 3.1 document of the HTTP API, built from the code that defines it (the release manifest's schema,
the domain's enums) and committed as ``schemas/openapi.json`` (``python -m controlplane openapi``; a test fails
when the committed copy is stale). ``GET /api/openapi.json`` serves it."""

from __future__ import annotations

import functools
from typing import Any

from triggers.openapi.center_paths import center_paths
from triggers.openapi.explanation import explanation_schemas
from triggers.openapi.paths import error_responses, paths
from triggers.openapi.schemas import component_schemas

DESCRIPTION = """\
The runtime control plane's HTTP API: deploy release manifests with health-gated rollouts, approve, abort or \
roll them back, follow a flow's events, and review drift.

Every route needs a caller signed in with App Service Authentication (Microsoft Entra ID): a bearer token for \
the app's audience (pipelines, the remote CLI) or the session cookie of a browser sign-in at `/.auth/login/aad`. \
The caller's app roles (Reader, Deployer, Approver, Operator) decide what it may do: without a caller a route \
answers 401, with roles that do not allow the operation 403 (the problem names the roles it needs). \
Function keys are not accepted. Errors are RFC 9457 problem details \
(`application/problem+json`) that name the field and the reason; they never carry a trace or a server path. \
When storage is unavailable every route answers 503 with `Retry-After`, having changed nothing."""


@functools.cache
def api_document() -> dict[str, Any]:
    """The document, built once per process: treat it as read-only."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Runtime control plane", "version": "1", "description": DESCRIPTION},
        "security": [{"entraBearer": []}, {"easyAuthSession": []}],
        "paths": {**paths(), **center_paths()},
        "components": {
            "schemas": {**component_schemas(), **explanation_schemas()},
            "responses": error_responses(),
            "securitySchemes": {
                "entraBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An Entra ID access token for the app's audience (locally: python -m "
                    "controlplane token)",
                },
                "easyAuthSession": {"type": "apiKey", "in": "cookie", "name": "AppServiceAuthSession"},
            },
        },
    }
