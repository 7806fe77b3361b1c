"""An operator's signal to a running deployment (approve, abort): who sends it and why.

The API builds one from the authenticated caller (``triggers.identity.actor_of``) and the request's reason
(``check_reason``: 400 naming the field) and raises it as the external event's data (``to_dict``). The
orchestrator reads what arrives with ``from_event``: the Durable webhook takes any JSON from anyone holding
the system key, so the payload may be a plain string, a number or garbage; whatever does not parse is
refused there (the wait goes on), never a crash.

    event data                                            | from_event
    ------------------------------------------------------+-------------------------------------------
    {"actor": {"name", "objectId", "roles"}, "reason": r} | OperatorSignal(Actor(...), r)
    the same object as a JSON string                      | the same: the SDK's raise_event encodes twice
    "ship it", 42, null, {"by": "ana", "reason": "x"}     | InvalidSignal naming the field
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from controlplane.domain.access import Actor
from controlplane.domain.wire import WireFields
from controlplane.errors import FieldError, InvalidInput

APPROVE = "approve"
ABORT = "abort"
SIGNALS = (APPROVE, ABORT)
MAX_REASON_CHARS = 1000


class InvalidSignal(InvalidInput):
    """An approve or abort payload (or an operator's reason) failed validation."""

    what = "signal"


@dataclass(frozen=True)
class OperatorSignal:
    """Who approves or aborts a deployment (the authenticated ``actor``) and why (``reason``: 1..1000
    characters, no control characters)."""

    actor: Actor
    reason: str

    def __post_init__(self) -> None:
        error = reason_error(self.reason)
        if error is not None:
            raise InvalidSignal([error])

    def to_dict(self) -> dict[str, Any]:
        return {"actor": self.actor.to_dict(), "reason": self.reason}

    @classmethod
    def from_dict(cls, data: object) -> OperatorSignal:
        """A signal from ``{"actor": {...}, "reason": ...}``; InvalidSignal naming each bad field."""
        fields = WireFields(data)
        actor = fields.parsed("actor", Actor.from_dict, "actor {name, objectId, roles}")
        reason = fields.text("reason")
        if actor is not None:
            blank = [
                FieldError(f"actor.{key}", "must not be empty") for key, value in _named(actor) if not value.strip()
            ]
            fields.errors.extend(blank)
        if reason is not None and (error := reason_error(reason)) is not None:
            fields.errors.append(error)
        if fields.errors or actor is None:
            raise InvalidSignal(fields.errors)
        return cls(actor, reason)

    @classmethod
    def from_event(cls, data: object) -> OperatorSignal:
        """What an orchestration received as the event's data.

        The SDK's ``raise_event`` JSON-encodes its data and then posts that string as JSON, and the Durable
        extension keeps the string as the event's value, so on Azure the object arrives as a JSON string
        (azure-functions-durable-python issue #295): such a string is decoded once, never more.
        """
        if not isinstance(data, str):
            return cls.from_dict(data)
        try:
            decoded = json.loads(data)
        except ValueError:
            refused = FieldError("", f"JSON object required (got a string: {_excerpt(data)})")
            raise InvalidSignal([refused]) from None
        return cls.from_dict(decoded)

    def describe(self) -> str:
        """``ana: change CHG-1 approved``, for a transition's reason."""
        return f"{self.actor.name}: {self.reason}"


def reason_error(value: object, name: str = "reason") -> FieldError | None:
    """Why ``value`` is no operator's reason (a string of 1..1000 characters, not blank, without control
    characters), or None."""
    if not isinstance(value, str):
        return FieldError(name, f"string required (got {value!r})")
    if not value.strip():
        return FieldError(name, "must not be empty")
    if len(value) > MAX_REASON_CHARS:
        return FieldError(name, f"at most {MAX_REASON_CHARS} characters (got {len(value)})")
    controls = sorted({f"U+{ord(char):04X}" for char in value if unicodedata.category(char) == "Cc"})
    if controls:
        return FieldError(name, f"control characters are not allowed (got {', '.join(controls)})")
    return None


def _named(actor: Actor) -> tuple[tuple[str, str], ...]:
    return (("name", actor.name), ("objectId", actor.object_id))


def _excerpt(text: str) -> str:
    return repr(text[:40]) + ("…" if len(text) > 40 else "")
