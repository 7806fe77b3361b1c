"""Rewinding a Failed instance, after the Azure Storage provider's ``RewindHistoryAsync``
(Azure/durabletask ``src/DurableTask.AzureStorage/Tracking/AzureTableTrackingStore.cs``).

There, the failure events of the last execution (``TaskFailed``, ``SubOrchestrationInstanceFailed`` and
the ``ExecutionCompleted`` that says Failed) become ``GenericEvent`` rows marked ``"Rewound: <type>"``,
each failed sub-orchestration is rewound the same way, the instance goes back to Pending, and the
deepest failed instances are revived with a ``GenericEvent`` message: the replay then finds the failed
tasks unanswered and they run again.

Here the failure events are rewritten the same way. The ``TaskScheduled`` of a failed task is kept
rather than blanked and scheduled anew: the engine re-runs a scheduled task that has no completion when
it loads the instance, which gives the same re-run without disturbing the task positions its
nondeterminism check compares.
"""

from __future__ import annotations

from dataclasses import dataclass

from funchost.durable.history import Event, EventType, RuntimeStatus, dtfx_name, kind_of, scheduled

_FAILURES = frozenset({EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED})


@dataclass(frozen=True)
class RewindPlan:
    failed_children: list[str]  # sub-orchestration instances to rewind too

    @classmethod
    def of(cls, events: list[Event]) -> RewindPlan:
        created = scheduled(events)
        children = [
            created[e["TaskScheduledId"]]["InstanceId"]
            for e in events
            if kind_of(e) is EventType.SUB_ORCHESTRATION_FAILED and e.get("TaskScheduledId") in created
        ]
        return cls(children)

    @staticmethod
    def rewrite(history_event: Event) -> Event:
        """A failure event as the rewound history holds it (a ``GenericEvent``); any other as it is."""
        kind = kind_of(history_event)
        failed_end = kind is EventType.EXECUTION_COMPLETED and (
            history_event.get("OrchestrationStatus") == RuntimeStatus.FAILED.value
        )
        if kind not in _FAILURES and not failed_end:
            return history_event
        return {
            **history_event,
            "EventType": int(EventType.GENERIC_EVENT),
            "Reason": f"Rewound: {dtfx_name(kind)}",
        }
