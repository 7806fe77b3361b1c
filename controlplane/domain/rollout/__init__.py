"""Rollout plans: pure functions from a strategy and replica counts to the steps the orchestrator runs.

Modules: ``steps`` (the step vocabulary and its wire form), ``rolling``, ``canary`` and ``bluegreen``
(one per strategy, each with a table of worked examples) and ``plan`` (the one dispatcher,
``plan_rollout``, and ``rollback_plan``).
"""

from controlplane.domain.rollout.plan import plan_rollout, rollback_plan
from controlplane.domain.rollout.steps import (
    AwaitApproval,
    Pause,
    RunHealthGate,
    ScaleDownStableAfter,
    ScaleRevision,
    SetPreview,
    SetTraffic,
    Step,
    describe,
    step_from_dict,
)

__all__ = [
    "AwaitApproval",
    "Pause",
    "RunHealthGate",
    "ScaleDownStableAfter",
    "ScaleRevision",
    "SetPreview",
    "SetTraffic",
    "Step",
    "describe",
    "plan_rollout",
    "rollback_plan",
    "step_from_dict",
]
