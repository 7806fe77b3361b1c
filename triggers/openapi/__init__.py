"""The OpenAPI 3.1 document of the HTTP API, built from the code that defines it (the release manifest's schema,
the domain's enums) and committed as ``schemas/openapi.json`` (``python -m controlplane openapi``; a test fails
when the committed copy is stale). ``GET /api/openapi.json`` serves it."""

from __future__ import annotations

import functools
from typing import Any

from triggers.openapi.paths import error_responses, paths
from triggers.openapi.schemas import component_schemas

DESCRIPTION = """\
The runtime control plane's HTTP API: deploy release manifests with health-gated rollouts, approve, abort or \
roll them back, follow a flow's events, and review drift.

Every route takes a function key, as header `x-functions-key` or query parameter `code` (the Functions host's \
key model); without the right key it answers 401 with an empty body. Errors are RFC 9457 problem details \
(`application/problem+json`) that name the field and the reason; they never carry a trace or a server path. \
When storage is unavailable every route answers 503 with `Retry-After`, having changed nothing."""


@functools.cache
def api_document() -> dict[str, Any]:
    """The document, built once per process: treat it as read-only."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Runtime control plane", "version": "1", "description": DESCRIPTION},
        "security": [{"functionKeyHeader": []}, {"functionKeyQuery": []}],
        "paths": paths(),
        "components": {
            "schemas": component_schemas(),
            "responses": error_responses(),
            "securitySchemes": {
                "functionKeyHeader": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }

