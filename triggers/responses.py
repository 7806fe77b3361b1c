"""JSON and problem+json (RFC 9457) responses shared by the HTTP triggers."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=headers)


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extensions: Any
) -> func.HttpResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extensions}
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/problem+json", headers=headers)
