"""The timestamps the host stores: RFC 3339 in UTC with a ``Z`` suffix and microseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """``moment`` (timezone-aware) as ``2026-01-02T03:04:05.000006Z``."""
    if moment.tzinfo is None:
        raise ValueError("a stored time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """The UTC moment ``format_time`` wrote (any RFC 3339 time with an offset)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone")
    return moment.astimezone(UTC)
