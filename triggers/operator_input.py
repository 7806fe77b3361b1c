"""The reason an operator gives for an action (approve, abort, rollback, a finding's decision, a drift run),
read from the JSON body ``{"reason": ...}`` or the query ``?reason=`` (the body wins when both are given).

Who acts is never read from the request: it is the signed-in caller (``triggers.identity.actor_of``), as
Argo CD and Kargo take the actor of a sync or a promotion from the session, never from a field. ``by``, which
callers sent before identities existed, is still accepted when it names the caller (its name or object id)
and then changes nothing; any other ``by`` is a 400, since answering 202 would let the client believe it
acted as someone else.

    request                                 | answer
    ----------------------------------------+----------------------------------------------------------
    {"reason": "CHG-1"}, ?reason=CHG-1      | "CHG-1"
    no reason where one is required         | 400 naming reason
    a reason that is blank, over 1000       | 400 naming reason
    characters or has control characters    |
    {"by": <the caller's name>, "reason"}   | "CHG-1" (by ignored)
    {"by": "someone else", ...}             | 400 naming by
    not a JSON object; an unknown key        | 400 naming it
    a body over 16 KiB                      | 413
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import azure.functions as func

from controlplane.domain.access import Actor
from controlplane.domain.workflow.signals import InvalidSignal, reason_error
from controlplane.errors import FieldError
from triggers.responses import problem

MAX_BODY_BYTES = 16 * 1024
FIELDS = ("reason", "by")


def required_reason(req: func.HttpRequest, actor: Actor, what: str) -> str | func.HttpResponse:
    """The request's reason, or the 400/413 problem answering a bad request for ``what`` (e.g. "approve")."""
    return _answer(req, actor, what, required=True) or ""  # a missing reason is a 400 already


def optional_reason(req: func.HttpRequest, actor: Actor, what: str) -> str | func.HttpResponse | None:
    """The request's reason, None when it gives none; a problem for a bad one."""
    return _answer(req, actor, what, required=False)


def _answer(req: func.HttpRequest, actor: Actor, what: str, required: bool) -> str | func.HttpResponse | None:
    raw = req.get_body()
    if len(raw) > MAX_BODY_BYTES:
        detail = f"the body is {len(raw)} bytes; an operator's reason may have at most {MAX_BODY_BYTES} (16 KiB)"
        return problem(413, "Body too large", detail, limitBytes=MAX_BODY_BYTES)
    try:
        return _read(raw, req.params, actor, required)
    except InvalidSignal as invalid:
        errors = [error.to_dict() for error in invalid.errors]
        return problem(400, f"Invalid {what}", "; ".join(str(error) for error in invalid.errors), errors=errors)


def _read(raw: bytes, params: Mapping[str, str], actor: Actor, required: bool) -> str | None:
    """The reason; InvalidSignal naming each bad field."""
    body: object = {}
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            raise InvalidSignal([FieldError("", 'body: a JSON object {"reason": ...} required')]) from None
    if not isinstance(body, dict):
        raise InvalidSignal([FieldError("", f"body: JSON object required (got {type(body).__name__})")])
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise InvalidSignal([FieldError(name, "unknown field (expected reason)") for name in unknown])
    errors = [
        FieldError(name, f"string required (got {json.dumps(body[name])[:40]})")
        for name in FIELDS
        if name in body and not isinstance(body[name], str)
    ]
    if errors:
        raise InvalidSignal(errors)
    by = body.get("by", params.get("by"))
    if by is not None and by not in (actor.name, actor.object_id):
        got = str(by)[:80]
        errors.append(FieldError("by", f"the actor is the signed-in caller ({actor.name}): omit by (got {got!r})"))
    reason = body.get("reason", params.get("reason"))
    if reason is None and required:
        errors.append(FieldError("reason", "required: say why (the body's reason or ?reason=)"))
    elif reason is not None and (error := reason_error(reason)) is not None:
        errors.append(error)
    if errors:
        raise InvalidSignal(errors)
    return reason
