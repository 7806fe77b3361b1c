"""Checking what reached the bus against the event log: the outbox's promise, for tests and the reliability bench."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.domain.events import Envelope


def lost_events(logged: Sequence[Envelope], published: Sequence[Envelope]) -> list[str]:
    """Ids of ``logged`` events (in log order per trace) that ``published`` (what reached the bus, in order)
    lacks, or whose first copy reached the bus before that of an earlier event of its trace."""
    first_copy: dict[str, int] = {}
    for position, envelope in enumerate(published):
        first_copy.setdefault(envelope.id, position)
    lost: list[str] = []
    latest: dict[str, int] = {}  # per trace: the bus position of its latest event so far in log order
    for envelope in logged:
        position = first_copy.get(envelope.id, -1)
        if position < 0 or position < latest.get(envelope.traceid, -1):
            lost.append(envelope.id)
        else:
            latest[envelope.traceid] = position
    return lost
