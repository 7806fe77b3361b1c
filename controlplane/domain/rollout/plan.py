"""The one place that chooses a rollout plan by strategy, and the plan that undoes any of them.

Every plan starts from "new: 0 replicas, 0% traffic; stable: ``stable`` replicas" and ends with new at
``desired`` replicas and 100% of the traffic, stable at 0 (at once, or after ``ScaleDownStableAfter``).
Every traffic increase is followed by a health gate before the next one. After the last gate a plan
only waits (a final canary pause) and retires the stable revision or withdraws the preview: the promotion.
"""

from __future__ import annotations

from controlplane.domain.manifest.strategy import BlueGreen, Canary, RollingHealthGated, Strategy
from controlplane.domain.rollout.bluegreen import plan_blue_green
from controlplane.domain.rollout.canary import plan_canary
from controlplane.domain.rollout.fixed_size import fixed_size
from controlplane.domain.rollout.rolling import plan_rolling
from controlplane.domain.rollout.steps import ScaleRevision, SetPreview, SetTraffic, Step, require_counts

FIXED_SIZE_COMPUTE = frozenset({"containerapps"})
"""Computes whose revisions cannot be resized once created (Azure Container Apps): see ``fixed_size``."""


def plan_rollout(strategy: Strategy, desired: int, stable: int, compute: str | None = None) -> list[Step]:
    """The steps that roll ``desired`` replicas of the new revision out beside ``stable`` running ones;
    on a ``compute`` whose revisions have a fixed size, the plan's fixed-size form."""
    plan = _strategy_plan(strategy, desired, stable)
    return fixed_size(plan, desired) if compute in FIXED_SIZE_COMPUTE else plan


def _strategy_plan(strategy: Strategy, desired: int, stable: int) -> list[Step]:
    match strategy:
        case RollingHealthGated():
            return plan_rolling(strategy, desired, stable)
        case Canary():
            return plan_canary(strategy, desired, stable)
        case BlueGreen():
            return plan_blue_green(strategy, desired, stable)
    raise TypeError(f"no rollout plan for strategy {type(strategy).__name__}")


def rollback_plan(stable_replicas: int) -> list[Step]:
    """The steps that put all traffic back on the stable revision at once, whatever the strategy.

    Stable is brought back to ``stable_replicas`` first (a no-op unless it was scaled down), so it is
    ready before it takes traffic; only then does traffic move and the new revision go away. No moment
    has fewer ready replicas than before the rollback began. With ``stable_replicas == 0`` (no previous
    deployment) the new revision is simply scaled to zero.

        stable_replicas | plan
        --------------- | -------------------------------------------------
              3         | stable=3, traffic=0, preview=off, new=0
              0         | traffic=0, preview=off, new=0
    """
    require_counts(0, stable_replicas)
    restore: list[Step] = [ScaleRevision("stable", stable_replicas)] if stable_replicas > 0 else []
    return [*restore, SetTraffic(0), SetPreview(False), ScaleRevision("new", 0)]
