"""A service's rollout plan cut for the durable backend: what a service's sub-orchestration runs on its own, and
what waits for the release orchestration.

A *segment* is a run of plan steps that needs nobody: compute steps and health gates. Pauses and approvals cut
a plan into segments, since they wait on the release orchestration's clock and operators (one place for signals
and for what an operator sees waiting). Within a segment, consecutive compute steps go to Compute in one batch
(one activity: one round trip through the backend for a real step), and each gate is one probing activity.

Worked example (a canary: ``new=1, traffic=10, gate, pause 60s, traffic=50, gate, approval, traffic=100``):

    lane_items     -> Segment(new=1, traffic=10, gate #1) | Pause 60s | Segment(traffic=50, gate #2) | AwaitApproval
                      | Segment(traffic=100)
    batches(seg 1) -> [new=1, traffic=10] | gate #1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.domain.rollout.steps import AwaitApproval, Pause, RunHealthGate, Step

Wait = Pause | AwaitApproval


@dataclass(frozen=True)
class Segment:
    """Steps a service runs without waiting for anyone; its gates are numbered from ``first_gate`` on (each gate's
    number among the plan's gates, from 1)."""

    steps: tuple[Step, ...]
    first_gate: int

    def after_gate(self, number: int) -> Segment | None:
        """What is left of the segment after its gate ``number`` (a hold there ended the segment), or None."""
        index, gate = 0, self.first_gate - 1
        while gate < number:
            gate += isinstance(self.steps[index], RunHealthGate)
            index += 1
        rest = self.steps[index:]
        return Segment(rest, number + 1) if rest else None


LaneItem = Segment | Wait


def lane_items(steps: Sequence[Step], gates_before: int = 0) -> list[LaneItem]:
    """``steps`` as segments and the waits between them, in order; no segment is empty."""
    items: list[LaneItem] = []
    run: list[Step] = []
    gates = gates_before
    first = gates + 1
    for step in steps:
        if isinstance(step, Pause | AwaitApproval):
            if run:
                items.append(Segment(tuple(run), first))
            items.append(step)
            run, first = [], gates + 1
            continue
        run.append(step)
        gates += isinstance(step, RunHealthGate)
    if run:
        items.append(Segment(tuple(run), first))
    return items


def batches(steps: Sequence[Step]) -> list[tuple[Step, ...] | RunHealthGate]:
    """A segment's steps as compute batches (consecutive compute steps) and gates, in order."""
    out: list[tuple[Step, ...] | RunHealthGate] = []
    run: list[Step] = []
    for step in steps:
        if isinstance(step, RunHealthGate):
            if run:
                out.append(tuple(run))
            out.append(step)
            run = []
        else:
            run.append(step)
    if run:
        out.append(tuple(run))
    return out
