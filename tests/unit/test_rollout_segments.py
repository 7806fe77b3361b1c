"""A service's plan cut into segments, waits and batches (controlplane/domain/rollout/segments.py)."""

from __future__ import annotations

import pytest

from controlplane.domain.rollout import ScaleRevision
from controlplane.domain.rollout.segments import Segment, batches, lane_items
from controlplane.domain.rollout.steps import AwaitApproval, Pause, RunHealthGate, SetTraffic

NEW1 = ScaleRevision("new", 1)
T10, T50, T100 = SetTraffic(10), SetTraffic(50), SetTraffic(100)
GATE_A, GATE_B = RunHealthGate("canary at 10%"), RunHealthGate("canary at 50%")
PAUSE = Pause(60)
APPROVAL = AwaitApproval("go to 100%")

# The module docstring's canary: new=1, traffic=10, gate, pause 60s, traffic=50, gate, approval, traffic=100.
CANARY = (NEW1, T10, GATE_A, PAUSE, T50, GATE_B, APPROVAL, T100)


@pytest.mark.parametrize(
    ("steps", "gates_before", "items"),
    [
        pytest.param(
            CANARY,
            0,
            [Segment((NEW1, T10, GATE_A), 1), PAUSE, Segment((T50, GATE_B), 2), APPROVAL, Segment((T100,), 3)],
            id="canary-docstring",
        ),
        pytest.param(
            (T50, GATE_B, APPROVAL, T100),
            1,
            [Segment((T50, GATE_B), 2), APPROVAL, Segment((T100,), 3)],
            id="numbering-continues-after-gates-before",
        ),
        pytest.param(
            (PAUSE, APPROVAL, NEW1),
            0,
            [PAUSE, APPROVAL, Segment((NEW1,), 1)],
            id="leading-waits-make-no-empty-segment",
        ),
        pytest.param(
            (GATE_A, GATE_B, PAUSE),
            0,
            [Segment((GATE_A, GATE_B), 1), PAUSE],
            id="trailing-wait-two-gates-in-one-segment",
        ),
        pytest.param(
            (GATE_A, PAUSE, PAUSE, GATE_B),
            4,
            [Segment((GATE_A,), 5), PAUSE, PAUSE, Segment((GATE_B,), 6)],
            id="consecutive-waits",
        ),
        pytest.param((), 0, [], id="empty-plan"),
        pytest.param((NEW1, T100), 0, [Segment((NEW1, T100), 1)], id="no-gates-no-waits"),
    ],
)
def test_lane_items_cut_a_plan_at_its_waits_and_number_gates_across_segments(steps, gates_before, items) -> None:
    assert lane_items(steps, gates_before) == items


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param((NEW1, T10, GATE_A), [(NEW1, T10), GATE_A], id="canary-docstring-segment-1"),
        pytest.param(
            (NEW1, T10, GATE_A, GATE_B, T50, T100, GATE_A),
            [(NEW1, T10), GATE_A, GATE_B, (T50, T100), GATE_A],
            id="gates-stand-alone",
        ),
        pytest.param((GATE_A,), [GATE_A], id="a-lone-gate"),
        pytest.param((T100,), [(T100,)], id="a-lone-step"),
        pytest.param((), [], id="empty"),
    ],
)
def test_batches_group_consecutive_compute_steps_and_keep_each_gate_alone(steps, expected) -> None:
    assert batches(steps) == expected


@pytest.mark.parametrize(
    ("segment", "gate", "rest"),
    [
        pytest.param(Segment((T10, GATE_A, T50, GATE_B, T100), 3), 3, Segment((T50, GATE_B, T100), 4), id="first"),
        pytest.param(Segment((T10, GATE_A, T50, GATE_B, T100), 3), 4, Segment((T100,), 5), id="second"),
        pytest.param(Segment((GATE_A, GATE_B), 1), 1, Segment((GATE_B,), 2), id="gate-then-gate"),
        pytest.param(Segment((T10, GATE_A), 2), 2, None, id="held-at-the-end"),
        pytest.param(Segment((T50, GATE_B, T100), 7), 7, Segment((T100,), 8), id="numbered-late"),
    ],
)
def test_after_gate_is_the_rest_of_a_segment_after_a_held_gate(segment, gate, rest) -> None:
    assert segment.after_gate(gate) == rest


def test_after_gate_runs_on_with_its_numbering_in_lane_items() -> None:
    first = lane_items(CANARY)[0]
    assert isinstance(first, Segment)
    assert first.after_gate(1) is None
    rest = Segment((T10, GATE_A, T50, GATE_B), 1).after_gate(1)
    assert rest is not None and batches(rest.steps) == [(T50,), GATE_B] and rest.first_gate == 2
