"""Services' segments in one sub-orchestration: the release orchestration's fan-out of fan-outs.

A fan-in costs the orchestration that waits an episode per answer, each replaying its whole history, which
grows with every answer: waiting on n sub-orchestrations replays about n² events. Past ``SEGMENTS_PER_GROUP``
services in a wave, the release orchestration (orchestrators.lanes) starts its segments in groups: each group
waits on its own segments and answers once, so no history grows past a group's and replay stays linear in the
services (the batching Durable Functions' fan-out/fan-in guidance gives for large fan-outs).

Only segments that need nobody are grouped: a service whose lane has one segment and no wait. A group answers
once all its segments have: their outcomes, in order. The first failure in a group records RollingBack at once
(unless the release is past rolling out), so every service of the release stops at its next activity, as when
the release orchestration records it; the group still waits for its segments, so nothing moves behind the
rollback that follows.
"""

from __future__ import annotations

import azure.durable_functions as df

from controlplane.domain.deployment import ROLLING_OUT_STATES, DeploymentState
from controlplane.domain.workflow.service_segments import GroupStart, SegmentOutcome
from orchestrators.flow import Flow, Task
from orchestrators.service_rollout import SERVICE_ROLLOUT_ORCHESTRATOR

bp = df.Blueprint()
SERVICE_GROUP_ORCHESTRATOR = "service_group"
SEGMENTS_PER_GROUP = 10


@bp.function_name(SERVICE_GROUP_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def service_group(context: df.DurableOrchestrationContext) -> Task:
    group = GroupStart.from_dict(context.get_input())
    flow = Flow(context, group.start, takes_signals=False)
    tasks = [
        context.call_sub_orchestrator(SERVICE_ROLLOUT_ORCHESTRATOR, segment.to_dict(), segment.instance_id(number))
        for segment, number in group.segments
    ]
    outcomes: dict[int, SegmentOutcome] = {}
    stopped = False
    while len(outcomes) < len(tasks):
        pending = [task for index, task in enumerate(tasks) if index not in outcomes]
        winner = yield context.task_any(pending)
        index = tasks.index(winner)
        outcome = outcomes[index] = SegmentOutcome.answered(winner.result, group.segments[index][0].target.service)
        if outcome.failure and not stopped:
            stopped = True
            yield from flow.move(DeploymentState.ROLLING_BACK, outcome.failure, only_from=ROLLING_OUT_STATES)
    return [outcomes[index].to_dict() for index in range(len(tasks))]
