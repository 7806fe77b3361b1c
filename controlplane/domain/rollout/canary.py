"""Canary: shift traffic to the new revision in weighted steps, gating (and pausing) at each one.

Per manifest step: scale new to ``max(1, ceil(desired * weight / 100))`` replicas, send it ``weight``%
of traffic, run the health gate, then pause for ``durationSeconds`` or wait for approval. The stable
revision keeps all its replicas until the end, so aborting at any step only moves traffic back. To finish:
scale new to ``desired``, send it 100% (gated, if the last step was below 100), scale stable to 0.

With no stable replicas (a first deployment) there is nothing to split traffic with and no one to
protect, so, as Argo Rollouts does, the steps are skipped: new goes straight to ``desired`` and 100%, gated.

Worked examples (``describe`` notation):

    desired stable steps                      | plan
    ----------------------------------------- | -------------------------------------------------------------
       4      4   10 (60s), 50 (approve), 100 | new=1, traffic=10, gate, pause=60s, new=2, traffic=50, gate,
                                              | approval, new=4, traffic=100, gate, stable=0
      10     10   20 (approve), 50            | new=2, traffic=20, gate, approval, new=5, traffic=50, gate,
                                              | new=10, traffic=100, gate, stable=0
       1      1   10 (30s), 50 (30s)          | new=1, traffic=10, gate, pause=30s, traffic=50, gate,
                                              | pause=30s, traffic=100, gate, stable=0
       3      0   25 (approve), 100           | new=3, traffic=100, gate
       0      2   50 (approve)                | traffic=100, stable=0

Replicas per step, ``max(1, ceil(desired * weight / 100))``:

    desired weight | new replicas
    -------------- | ------------
       4      10   |  1   (0.4 up)
       4      50   |  2
      10      33   |  4   (3.3 up)
       1       1   |  1
       3     100   |  3
"""

from __future__ import annotations

from itertools import pairwise

from controlplane.domain.manifest.strategy import Canary, CanaryStep
from controlplane.domain.rollout.steps import (
    AwaitApproval,
    Pause,
    RunHealthGate,
    ScaleRevision,
    SetTraffic,
    Step,
    require_counts,
    scaled_to_zero,
)


def canary_replicas(desired: int, weight: int) -> int:
    """New replicas for a step of ``weight`` percent: enough to carry the weight, at least one."""
    return max(1, -(-desired * weight // 100))


def plan_canary(strategy: Canary, desired: int, stable: int) -> list[Step]:
    """The canary steps for ``desired`` new replicas beside ``stable`` ones (see the module table)."""
    require_counts(desired, stable)
    if desired == 0:
        return scaled_to_zero(stable)
    _require_increasing(strategy.steps)
    if stable == 0:
        return [ScaleRevision("new", desired), SetTraffic(100), RunHealthGate("first deployment: no stable revision")]
    steps: list[Step] = []
    new = traffic = 0
    for number, step in enumerate(strategy.steps, start=1):
        replicas = canary_replicas(desired, step.weight)
        if replicas != new:
            new = replicas
            steps.append(ScaleRevision("new", new))
        traffic = step.weight
        steps += [SetTraffic(traffic), RunHealthGate(f"canary step {number}: {traffic}% traffic on {new} replicas")]
        if step.pause is not None and step.pause.duration_seconds is not None:
            steps.append(Pause(step.pause.duration_seconds))
        elif step.pause is not None and step.pause.until_approved:
            steps.append(AwaitApproval(f"canary step {number}: {traffic}% traffic on the new revision"))
    if new != desired:
        steps.append(ScaleRevision("new", desired))
    if traffic != 100:
        steps += [SetTraffic(100), RunHealthGate(f"canary promoted: 100% traffic on {desired} replicas")]
    steps.append(ScaleRevision("stable", 0))
    return steps


def _require_increasing(steps: list[CanaryStep]) -> None:
    # The manifest refuses such steps; a hand-built model must not make traffic go backwards either.
    weights = [step.weight for step in steps]
    if not weights or any(later <= earlier for earlier, later in pairwise(weights)):
        raise ValueError(f"canary weights must be non-empty and strictly increasing (got {weights})")
