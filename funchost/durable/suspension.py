"""Suspend and resume, as the Durable Task Framework runs them.

A suspended instance runs no episodes: what reaches it meanwhile (raised events, activity results,
fired timers, child results) is held, in arrival order, and applied in the episode that resumes it.
Terminate still acts at once. ``ExecutionSuspended`` and ``ExecutionResumed`` are history events, so an
instance reloaded from history knows it is suspended; the messages of held events stay in the Messages
table until that resume episode is durable, and held activity results are re-derived from history (the
task has no completion yet), so nothing held is lost in a crash.

Worked examples of :func:`gate` (S = suspend, R = resume, e = any other event, T = terminate):

    suspended  inbound   held before  ->  run          held after  suspended
    no         [S]       []               [S]          []          yes
    yes        [e1]      []               []           [e1]        yes
    yes        [R]       [e1]             [R, e1]      []          no
    yes        [S]       [e1]             []           [e1]        yes   (already suspended)
    no         [R]       []               []           []          no    (not suspended)
    yes        [e2, T]   [e1]             [e2, T]      []          no    (terminate ends it)
"""

from __future__ import annotations

from typing import Any, TypeVar

from funchost.durable.history import Event, EventType, completed_ids, is_duplicate, kind_of

SUSPEND = "Suspend"
RESUME = "Resume"
TERMINATE = "Terminate"
Inbound = TypeVar("Inbound", bound=tuple[Event, Any, Any])  # live.Inbound: (event, message id, generation)


def split_batch(batch: list[Inbound]) -> tuple[list[Inbound], list[Inbound]]:
    """This episode's share of the inbox and what waits for the next: a suspend or resume is an episode
    of its own, so the events before it run first and the events after it meet the new state."""
    for position, (inbound, _, _) in enumerate(batch):
        if inbound.get("Kind") in (SUSPEND, RESUME):
            cut = max(position, 1)
            return batch[:cut], batch[cut:]
    return batch, []


def gate(inbound: list[Event], held: list[Event], suspended: bool) -> tuple[list[Event], list[Event], bool]:
    """The events this episode runs, the events held after it, and whether the instance stays suspended."""
    if any(e.get("Kind") == TERMINATE for e in inbound):
        return inbound, [], False
    kind = inbound[0].get("Kind") if inbound else None
    if kind == SUSPEND:
        return ([], held, True) if suspended else (inbound, held, True)
    if kind == RESUME:
        return ([*inbound, *held], [], False) if suspended else ([], held, False)
    if suspended:
        answered = completed_ids(held)  # a result delivered twice while held is applied once
        return [], [*held, *(e for e in inbound if not is_duplicate(e, answered, set()))], True
    return inbound, held, False


def message_ids(events: list[Event]) -> set[str]:
    return {e["MessageId"] for e in events if e.get("MessageId")}


def suspended_in(events: list[Event]) -> bool:
    """Whether the history leaves the instance suspended (its last suspend has no resume after it)."""
    for history_event in reversed(events):
        kind = kind_of(history_event)
        if kind is EventType.EXECUTION_SUSPENDED:
            return True
        if kind is EventType.EXECUTION_RESUMED:
            return False
    return False
