"""What an orchestration costs the durable backend, counted from the episodes the engine reports.

``CostCounter`` is a ``DurableEngine`` observer (``funchost.durable.episodes.EpisodeReport``): it keeps, per
instance, the figures that predict cost and latency on Azure, where every activity or timer is a round trip
through the backend's queues and every episode replays the whole history (no extended sessions for Python):

- episodes: orchestrator executions (replays), the first included;
- activities, timers: TaskScheduled and TimerCreated events (retries included: each is a round trip);
- history: the length of the longest history any instance of the tree ended with (what one replay walks at most);
- replayed: the sum over episodes of the history each replay walked (the history before it plus the
  episode's OrchestratorStarted and inbound events);
- round trips: the length of the critical path, in round trips. An episode's *depth* is the largest of the
  depth of the instance's previous episode (episodes of an instance run one after the other) and, for each
  completion it takes in, the depth its task reached: an activity or timer is the depth of the episode that
  scheduled it plus 1; a sub-orchestration starts at its parent's scheduling depth plus 1 (the start message)
  and answers at the depth of its last episode plus 1 (the result message). Raised events (approvals, aborts)
  add nothing: they are waits for people, not for the backend. An instance's round trips are the depth of its
  last episode. Worked examples: a chain of n activities is n; a fan-out of n activities, then one more, is 2;
  a timer, then an activity is 2; a child running one activity is 3 for its parent.

Figures of an instance include its sub-orchestrations (its tree): the redesign of issue 15 part 1 runs a
service's rollout as a child, and the cost of a release is then the cost of the whole tree.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from funchost.durable.episodes import EpisodeReport
from funchost.durable.history import COMPLETIONS, EventType, kind_of

TaskKey = tuple[str, int, int]  # (instance id, generation, task id)
_ENDS = frozenset({EventType.EXECUTION_COMPLETED, EventType.EXECUTION_TERMINATED})


@dataclass(frozen=True)
class Figures:
    instances: int
    episodes: int
    activities: int
    timers: int
    history: int
    replayed: int
    round_trips: int


@dataclass
class _Instance:
    parent: str | None
    episodes: int = 0
    activities: int = 0
    timers: int = 0
    replayed: int = 0
    generation: int = 0
    history: int = 0  # of the current generation
    longest: int = 0
    depth: int = 0
    children: list[str] = field(default_factory=list)


class CostCounter:
    """An engine observer that counts each instance's cost (see the module docstring); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[str, _Instance] = {}
        self._answered: dict[TaskKey, int] = {}  # a task's completion -> the depth it reached
        self._started: dict[TaskKey, int] = {}  # a sub-orchestration -> the depth its first episode starts at

    def __call__(self, report: EpisodeReport) -> None:
        record = report.instance
        with self._lock:
            instance = self._instances.get(record.instance_id)
            parent_key: TaskKey | None = None
            if record.parent_instance_id is not None and record.parent_task_id is not None:
                parent_key = (record.parent_instance_id, record.parent_generation or 0, record.parent_task_id)
            if instance is None:
                instance = self._instances[record.instance_id] = _Instance(record.parent_instance_id)
                if record.parent_instance_id in self._instances:
                    self._instances[record.parent_instance_id].children.append(record.instance_id)
                instance.depth = self._started.get(parent_key, 0) if parent_key else 0
            if report.generation != instance.generation:  # continue-as-new: a new history
                instance.generation, instance.history = report.generation, 0
            self._take(record.instance_id, instance, report)
            if parent_key is not None and any(kind_of(e) in _ENDS for e in report.events):
                self._answered[parent_key] = instance.depth + 1

    def _take(self, instance_id: str, instance: _Instance, report: EpisodeReport) -> None:
        depth = instance.depth
        for inbound in report.events:
            kind = kind_of(inbound)
            if kind in COMPLETIONS:
                depth = max(depth, self._answered.get((instance_id, report.generation, inbound[COMPLETIONS[kind]]), 0))
        for scheduled in report.events:
            kind = kind_of(scheduled)
            key = (instance_id, report.generation, scheduled["EventId"])
            if kind in (EventType.TASK_SCHEDULED, EventType.TIMER_CREATED):
                self._answered[key] = depth + 1
            elif kind is EventType.SUB_ORCHESTRATION_CREATED:
                self._started[key] = depth + 1
        instance.depth = depth
        instance.episodes += 1
        instance.replayed += report.replayed
        instance.activities += sum(kind_of(e) is EventType.TASK_SCHEDULED for e in report.events)
        instance.timers += sum(kind_of(e) is EventType.TIMER_CREATED for e in report.events)
        instance.history += len(report.events)
        instance.longest = max(instance.longest, instance.history)

    def figures(self, instance_id: str, tree_of: bool = True) -> Figures:
        """The figures of ``instance_id`` and its sub-orchestrations (only its own with ``tree_of=False``), as
        far as they have run."""
        with self._lock:
            tree = self._tree(instance_id) if tree_of else [self._instances[instance_id]]
            root = self._instances[instance_id]
            return Figures(
                instances=len(tree),
                episodes=sum(i.episodes for i in tree),
                activities=sum(i.activities for i in tree),
                timers=sum(i.timers for i in tree),
                history=max(i.longest for i in tree),
                replayed=sum(i.replayed for i in tree),
                round_trips=root.depth,
            )

    def _tree(self, instance_id: str) -> list[_Instance]:
        tree, pending = [], [instance_id]
        while pending:
            instance = self._instances[pending.pop()]
            tree.append(instance)
            pending.extend(instance.children)
        return tree
