"""The request body of ``POST /api/deployments``: checked for size and media type, then parsed off the event loop.

Order of refusals (each RFC 9457 problem+json, nothing started):

| request                                               | answer |
|-------------------------------------------------------|--------|
| ``Idempotency-Key`` not 1-255 printable ASCII         | 400, names ``Idempotency-Key`` |
| body over ``MAX_BODY_BYTES`` (256 KiB)                | 413 |
| ``Content-Type`` neither JSON nor YAML                | 415, lists the accepted types |
| unreadable document, nesting or alias limits          | 400, ``errors[0].path`` empty |
| a field fails validation                              | 422, every failing field by path |

The Functions host itself accepts bodies up to 100 MB (the ``FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`` app
setting, default 104857600, enforced by azure-functions-host's ``HttpRequestBodySizeMiddleware``; see
learn.microsoft.com/azure/azure-functions/functions-app-settings). The manifest's limit is far below it,
so the host never refuses a body this module would accept, and a body between the two gets this 413.
A missing ``Content-Type`` reads as JSON, the API's documented format; YAML only under a YAML media type.
"""

from __future__ import annotations

import asyncio

import azure.functions as func

from controlplane.domain.idempotency import key_error
from controlplane.domain.manifest import MAX_DOCUMENT_BYTES, Release, Syntax, load_release
from controlplane.errors import InvalidManifest
from triggers.responses import problem

MAX_BODY_BYTES = MAX_DOCUMENT_BYTES
JSON_TYPES = ("application/json",)  # and any structured "+json" type (RFC 6839)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")  # application/yaml: RFC 9512


def body_syntax(content_type: str | None) -> Syntax | None:
    """JSON or YAML by the request's media type (parameters such as charset ignored); None if it is neither."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if not media_type or media_type in JSON_TYPES or media_type.endswith("+json"):
        return "json"
    if media_type in YAML_TYPES:
        return "yaml"
    return None


def idempotency_key(req: func.HttpRequest) -> str | func.HttpResponse | None:
    """The request's Idempotency-Key (None without one), or the 400 that refuses it."""
    key = req.headers.get("Idempotency-Key")
    if key is None:
        return None
    error = key_error(key)
    if error is not None:
        detail = f"Idempotency-Key {error}"
        return problem(400, "Invalid Idempotency-Key", detail, errors=[{"path": "Idempotency-Key", "reason": error}])
    return key


async def read_release(req: func.HttpRequest) -> Release | func.HttpResponse:
    """The release the body holds, or the refusal to answer; the parse runs in a worker thread."""
    body = req.get_body()
    if len(body) > MAX_BODY_BYTES:
        detail = f"the body is {len(body)} bytes; a release manifest may have at most {MAX_BODY_BYTES} (256 KiB)"
        return problem(413, "Manifest too large", detail, limitBytes=MAX_BODY_BYTES)
    syntax = body_syntax(req.headers.get("Content-Type"))
    if syntax is None:
        accepted = ", ".join([*JSON_TYPES, *YAML_TYPES])
        detail = f"Content-Type {req.headers.get('Content-Type')!r} is not a manifest type; send one of {accepted}"
        return problem(415, "Unsupported media type", detail, accepted=[*JSON_TYPES, *YAML_TYPES])
    try:
        return await asyncio.to_thread(load_release, body, source="request body", syntax=syntax)
    except InvalidManifest as error:
        status = 400 if any(not e.path for e in error.errors) else 422
        errors = [e.to_dict() for e in error.errors]
        return problem(status, "Invalid release manifest", f"{len(errors)} field(s) failed validation", errors=errors)
