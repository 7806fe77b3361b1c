"""The host's own error types: what it raises and catches. The storage layer translates SDK errors into these.

``HostError`` is the base; ``TransientError`` may succeed when retried, ``PermanentError`` will not;
``InvalidInput`` lists every failing setting or field (host.json, routes, messages), not just the first.
"""

from __future__ import annotations

from dataclasses import dataclass


class HostError(Exception):
    """Base of every error the host raises on purpose."""


class TransientError(HostError):
    """A failure that may succeed when retried (throttling, timeouts, lost races)."""


class PermanentError(HostError):
    """A failure that retrying cannot fix (a bad setting, a malformed file, a missing tool)."""


class NotFound(HostError):
    """The named thing does not exist."""


class AlreadyExists(HostError):
    """Something with the same identity exists already."""


class ConcurrencyConflict(TransientError):
    """An optimistic-concurrency write lost the race: re-read and try again."""


@dataclass(frozen=True)
class FieldError:
    """One failing field or setting, such as ``extensions.serviceBus.maxConcurrentCalls``, and why it failed."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class InvalidInput(PermanentError):
    """Input failed validation; ``errors`` lists every failing field."""

    what = "input"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  {error}" for error in self.errors)
        super().__init__(f"invalid {self.what} ({len(self.errors)} error(s)):\n{lines}")
