"""The release orchestration's fan-out: each service of a wave is a lane, its segments run as sub-orchestrations
(orchestrators.service_rollout) in parallel, and what waits between segments waits here.

    lane item      | here
    -------------- | ------------------------------------------------------------------------------------------
    Segment        | a sub-orchestration of the service (instance ``<deployment>:<service>:<n>``)
    Pause          | a durable timer, racing every other lane and an operator's abort
    AwaitApproval  | RuntimeDeploymentApprovalRequested and a wait for the approval (one approval at a time)
    held gate      | an inconclusive analysis a segment reported: held for an operator (analysis_gate.hold),
                   | then the rest of that segment runs

The lanes advance independently: whichever sub-orchestration or pause ends first, its lane moves on. The first
failure (a segment's reason to roll back, an operator's abort, a hold that rolls back) stops them all: RollingBack
is recorded first, which the segments' activities see, then every segment still running is awaited, so nothing
of a service is still moving when the release orchestration rolls it back. The progress deadline runs per
service, moved on by the time the service spent in metric analysis and holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from azure.durable_functions.models.Task import TaskBase, TimerTask

from controlplane.domain.deployment import ROLLING_OUT_STATES, DeploymentState
from controlplane.domain.rollout import AwaitApproval, Pause
from controlplane.domain.rollout.segments import LaneItem, Segment
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.service_segments import GroupStart, SegmentOutcome, SegmentStart
from controlplane.errors import first_line
from orchestrators import analysis_gate
from orchestrators.flow import Decision, Flow, Task, settled
from orchestrators.service_group import SEGMENTS_PER_GROUP, SERVICE_GROUP_ORCHESTRATOR
from orchestrators.service_rollout import SERVICE_ROLLOUT_ORCHESTRATOR, STOPPED


@dataclass
class Lane:
    """A service's rollout items still to run, in order."""

    target: Target
    items: list[LaneItem] = field(default_factory=list)
    gating_gate: int = 0  # the gate that records HealthGating (the service's last, in the release's last wave)

    @property
    def service(self) -> str:
        return self.target.service


@dataclass(frozen=True)
class _Running:
    """What a running task is: a lane's segment, a lane's pause (no segment), or a group's segments."""

    lane: Lane | None
    segment: Segment | None = None
    group: tuple[tuple[Lane, Segment], ...] = ()


class Lanes:
    """The services' lanes of one deployment, across its waves."""

    def __init__(self, flow: Flow, deadline: datetime) -> None:
        self.flow = flow
        self.deadline = deadline
        self._not_progressing: dict[str, timedelta] = {}  # per service: time in metric analysis and holds
        self._segments: dict[str, int] = {}  # per service: segments started, for their instance ids
        self._groups = 0  # groups started, for their instance ids

    def run(self, lanes: Sequence[Lane]) -> Task:
        """Run ``lanes`` to their ends in parallel: None, or the reason to roll back, with RollingBack recorded
        and no segment still running. A lane's ``gating_gate`` records HealthGating as ``Flow.hand_over`` says
        when its segment starts (with the approvals given by then)."""
        running: dict[TaskBase, _Running] = {}
        try:
            self._start_groups([lane for lane in lanes if _groupable(lane)], running)
            for lane in lanes:
                if failure := (yield from self._advance(lane, running)):
                    return (yield from self._stop(failure, running))
            while running:
                winner = yield from self.flow.first(list(running))
                if isinstance(winner, Decision):
                    return (yield from self._stop(winner.reason, running))
                ran = running.pop(winner)
                ended = _reports(ran, winner)
                if (failure := _first_failure(outcome for _, _, outcome in ended)) is not None:
                    # "stopped": another group recorded RollingBack; its reason comes with that group's outcomes
                    return (yield from self._stop(None if failure == STOPPED else failure, running))
                for lane, segment, outcome in ended:
                    if failure := (yield from self._ended(lane, segment, outcome)):
                        return (yield from self._stop(failure, running))
                for lane in [lane for lane, _, _ in ended] or ([ran.lane] if ran.lane else []):
                    if failure := (yield from self._advance(lane, running)):
                        return (yield from self._stop(failure, running))
        except Exception as error:  # never leave a service moving behind a rollback
            return (yield from self._stop(f"rollout failed: {first_line(error)}", running))
        return None

    def _advance(self, lane: Lane, running: dict[TaskBase, _Running]) -> Task:
        """Start the lane's next segment or pause, taking its approvals on the way; the abort's reason, or None."""
        context = self.flow.context
        while lane.items:
            item = lane.items.pop(0)
            if isinstance(item, Segment):
                running[self._start(lane, item)] = _Running(lane, item)
                return None
            if isinstance(item, Pause):
                until = context.current_utc_datetime + timedelta(seconds=item.seconds)
                running[context.create_timer(until)] = _Running(lane, None)
                return None
            if isinstance(item, AwaitApproval):
                what = f"the next rollout step of {lane.service}"
                if failure := (yield from self.flow.wait_for_approval(what, lane.service)):
                    return failure
        return None

    def _start_groups(self, lanes: list[Lane], running: dict[TaskBase, _Running]) -> None:
        """Past ``SEGMENTS_PER_GROUP`` lanes of one segment each, start those segments in groups
        (orchestrators.service_group): a fan-in of groups replays linearly in the services."""
        if len(lanes) <= SEGMENTS_PER_GROUP:
            return
        for first in range(0, len(lanes), SEGMENTS_PER_GROUP):
            members = []
            for lane in lanes[first : first + SEGMENTS_PER_GROUP]:
                segment = lane.items.pop(0)
                assert isinstance(segment, Segment)
                members.append((lane, segment))
            starts = tuple(self._segment(lane, segment) for lane, segment in members)
            self._groups += 1
            group = GroupStart(self.flow.start, starts)
            task = self.flow.context.call_sub_orchestrator(
                SERVICE_GROUP_ORCHESTRATOR, group.to_dict(), group.instance_id(self._groups)
            )
            running[task] = _Running(None, group=tuple(members))

    def _start(self, lane: Lane, segment: Segment) -> TaskBase:
        start, number = self._segment(lane, segment)
        return self.flow.context.call_sub_orchestrator(
            SERVICE_ROLLOUT_ORCHESTRATOR, start.to_dict(), start.instance_id(number)
        )

    def _segment(self, lane: Lane, segment: Segment) -> tuple[SegmentStart, int]:
        """The lane's next segment's input, and its number among the service's segments (from 1)."""
        service = lane.service
        number = self._segments[service] = self._segments.get(service, 0) + 1
        deadline = self.deadline + self._not_progressing.get(service, timedelta(0))
        start = SegmentStart(
            self.flow.start,
            lane.target,
            segment.steps,
            segment.first_gate,
            deadline,
            pre_rollout=number == 1,
            gating_gate=lane.gating_gate,
            gating=self.flow.hand_over() if lane.gating_gate else None,
        )
        return start, number

    def _ended(self, lane: Lane, segment: Segment, outcome: SegmentOutcome) -> Task:
        """Take a segment's outcome: hold its held gate, queue the rest of the segment; the reason to roll back,
        or None."""
        service = lane.service
        self._add(service, timedelta(seconds=outcome.analysing_seconds))
        if outcome.gates:
            self.flow.gates[service] = outcome.gates
        if outcome.failure or not outcome.held:
            return outcome.failure
        context = self.flow.context
        began = context.current_utc_datetime
        failure = yield from analysis_gate.hold(self.flow, lane.target, outcome.held)
        self._add(service, context.current_utc_datetime - began)
        if failure is None and (rest := segment.after_gate(outcome.gates)) is not None:
            lane.items.insert(0, rest)
        return failure

    def _add(self, service: str, spent: timedelta) -> None:
        self._not_progressing[service] = self._not_progressing.get(service, timedelta(0)) + spent

    def _stop(self, failure: str | None, running: dict[TaskBase, _Running]) -> Task:
        """Record RollingBack (the segments' activities stop on it), cancel the pauses, await the segments and
        groups still running; the reason to roll back. ``failure`` None: a group stopped the release, and the
        reason is the first failure the segments report (a group recorded RollingBack with it)."""
        flow = self.flow
        if failure is not None and flow.state is not DeploymentState.ROLLING_BACK:
            yield from flow.move(DeploymentState.ROLLING_BACK, failure, only_from=ROLLING_OUT_STATES)
        segments = []
        for task in running:  # segments and groups; pauses are timers
            if isinstance(task, TimerTask):
                if not task.is_completed:
                    task.cancel()
            else:
                segments.append(task)
        yield from settled(flow.context, segments)
        if failure is None:
            reported = (outcome for task in segments for _, _, outcome in _reports(running[task], task))
            failure = _first_failure(reported) or STOPPED
            yield from flow.move(DeploymentState.ROLLING_BACK, failure, only_from=ROLLING_OUT_STATES)  # recorded: no-op
        return failure


def _groupable(lane: Lane) -> bool:
    """A lane of one segment and nothing else: nobody waits on it, so a group can run it."""
    return len(lane.items) == 1 and isinstance(lane.items[0], Segment)


def _reports(ran: _Running, task: TaskBase) -> list[tuple[Lane, Segment, SegmentOutcome]]:
    """What a finished segment or group reports, lane by lane (a pause reports nothing; a group that failed
    outright, which it never does by itself, reports its failure for each of its segments)."""
    if ran.group:
        answers = task.result if isinstance(task.result, list) else [task.result] * len(ran.group)
        members = list(zip(ran.group, answers, strict=True))
    elif ran.segment is not None and ran.lane is not None:
        members = [((ran.lane, ran.segment), task.result)]
    else:
        return []
    return [(lane, segment, SegmentOutcome.answered(answer, lane.service)) for (lane, segment), answer in members]


def _first_failure(outcomes: Iterable[SegmentOutcome]) -> str | None:
    """The first reason to roll back among ``outcomes``: a segment's own failure before a segment stopped by the
    rollback (``STOPPED``), which says nothing of why."""
    failures = [outcome.failure for outcome in outcomes if outcome.failure]
    return next((failure for failure in failures if failure != STOPPED), failures[0] if failures else None)
