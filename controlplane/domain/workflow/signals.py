"""An operator's signal to a running deployment (approve, abort): who sends it and why.

The API builds one from the request (``from_dict``, InvalidInput naming each bad field -> 400) and raises it
as the external event's data (``to_dict``). The orchestrator reads what arrives with ``from_event``: the
Durable webhook takes any JSON from anyone holding the system key, so the payload may be a plain string, a
number or garbage; whatever does not parse is refused there (the wait goes on), never a crash.

    event data                                  | from_event
    --------------------------------------------+--------------------------------------------
    {"by": "ana", "reason": "CHG-1"}            | OperatorSignal("ana", "CHG-1")
    '{"by": "ana", "reason": "CHG-1"}' (a str)  | the same: the SDK's raise_event encodes twice
    "ship it", 42, null, {"by": ""}             | InvalidInput naming the field
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from controlplane.domain.wire import WireFields
from controlplane.errors import FieldError, InvalidInput

APPROVE = "approve"
ABORT = "abort"
SIGNALS = (APPROVE, ABORT)
MAX_BY_CHARS = 200
MAX_REASON_CHARS = 1000


class InvalidSignal(InvalidInput):
    """An approve or abort payload failed validation."""

    what = "signal"


@dataclass(frozen=True)
class OperatorSignal:
    """Who approves or aborts a deployment (``by``: 1..200 characters) and why (``reason``: 1..1000)."""

    by: str
    reason: str

    def __post_init__(self) -> None:
        checked = (_text_error("by", self.by, MAX_BY_CHARS), _text_error("reason", self.reason, MAX_REASON_CHARS))
        errors = [error for error in checked if error is not None]
        if errors:
            raise InvalidSignal(errors)

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: object) -> OperatorSignal:
        """A signal from ``{"by": ..., "reason": ...}``; InvalidSignal naming each bad field."""
        fields = WireFields(data)
        by, reason = fields.text("by"), fields.text("reason")
        if fields.errors:
            raise InvalidSignal(fields.errors)
        return cls(by, reason)

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
        return f"{self.by}: {self.reason}"


def _text_error(name: str, value: object, limit: int) -> FieldError | None:
    if not isinstance(value, str):
        return FieldError(name, f"string required (got {value!r})")
    if not value.strip():
        return FieldError(name, "must not be empty")
    if len(value) > limit:
        return FieldError(name, f"at most {limit} characters (got {len(value)})")
    controls = sorted({f"U+{ord(char):04X}" for char in value if unicodedata.category(char) == "Cc"})
    if controls:
        return FieldError(name, f"control characters are not allowed (got {', '.join(controls)})")
    return None


def _excerpt(text: str) -> str:
    return repr(text[:40]) + ("…" if len(text) > 40 else "")
