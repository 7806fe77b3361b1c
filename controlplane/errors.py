"""The control plane's error hierarchy.

Adapters translate SDK exceptions into these at the edge, so callers decide on retry or failure by
type alone: ``TransientError`` is worth retrying, ``PermanentError`` is recorded and not retried.
Expected business outcomes (a failed health gate, drift found) are events, never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass


def first_line(error: BaseException) -> str:
    """What a reason quotes of a failure: its message's first line (the Durable SDK joins an activity failure's
    reason and details as "{reason} \n {details}"), or its type when it has no message."""
    text = str(error).strip()
    return text.splitlines()[0].rstrip() if text else type(error).__name__


class ControlPlaneError(Exception):
    """Base of every error the control plane raises on purpose."""


class TransientError(ControlPlaneError):
    """A failure that may succeed when retried (throttling, timeouts, lost races)."""


class PermanentError(ControlPlaneError):
    """A failure that retrying cannot fix; record it and stop."""


class NotConfigured(PermanentError):
    """A port the work needs has no adapter because its settings are absent; ``settings`` names what to set."""

    def __init__(self, what: str, settings: str) -> None:
        super().__init__(f"no {what} is configured: set {settings} (see README, Settings)")
        self.what = what
        self.settings = settings


class NotFound(ControlPlaneError):
    """The named thing does not exist."""


class AlreadyExists(ControlPlaneError):
    """Something with the same identity exists already."""


class Refused(ControlPlaneError):
    """A request the current state does not allow (HTTP 409 Conflict); nothing was changed. The message
    says what holds it up."""


class ConcurrencyConflict(TransientError):
    """An optimistic-concurrency write lost the race: re-read and try again."""


class IllegalTransition(PermanentError):
    """A state machine was asked for a transition its diagram does not have."""

    def __init__(self, machine: str, source: str, target: str) -> None:
        super().__init__(f"{machine}: illegal transition {source} -> {target}")
        self.machine = machine
        self.source = source
        self.target = target


@dataclass(frozen=True)
class FieldError:
    """One failing field: a dotted path such as ``spec.services[1].image`` and why it failed."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


class InvalidInput(PermanentError):
    """A document failed validation; ``errors`` lists every failing field, not just the first."""

    what = "input"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  {error}" for error in self.errors)
        super().__init__(f"invalid {self.what} ({len(self.errors)} error(s)):\n{lines}")


class InvalidManifest(InvalidInput):
    """A release manifest failed validation."""

    what = "manifest"


class InvalidEnvelope(InvalidInput):
    """A message is not a well-formed event envelope (dead-letter it with this reason)."""

    what = "event envelope"
