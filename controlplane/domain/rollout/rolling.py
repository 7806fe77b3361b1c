"""RollingHealthGated: replace the stable replicas with new ones in batches, each batch health-gated.

Kubernetes rolling-update arithmetic, with a health gate where Kubernetes waits for availability:

- ``maxSurge`` / ``maxUnavailable`` resolve against ``desired``; a percentage of surge rounds up, of
  unavailable rounds down; if both come out 0 (``"0%"`` and ``"25%"`` of 3, say) unavailable becomes 1,
  as Kubernetes does, because the user ruled out extra replicas.
- Total replicas never exceed ``desired + surge``; ready replicas (stable, plus new ones that passed a
  gate) never drop below ``desired - unavailable`` (or below ``stable``, if that is less to begin with).
- A batch adds at most ``surge + unavailable`` new replicas (what Kubernetes replaces per step once
  running); on a first deployment (``stable == 0``) with the default surge 1 / unavailable 0 that is
  one replica per batch.

One batch: scale new up, give it its share of traffic (new / (new + stable), rounded half up, as it
will be once the batch is done), gate it, then scale stable down as far as the ready floor allows.
Traffic moves off stable replicas before they are removed, and every traffic increase is gated.
Only when the stable revision alone exceeds ``desired + surge`` does a plan start by scaling stable
down (to the ready floor) to make room.

Worked examples (``describe`` notation; ``|`` separates batches for reading only):

    desired stable surge unav | plan
    ------------------------- | ---------------------------------------------------------------------------
       4      4     1     0   | new=1, traffic=25, gate, stable=3 | new=2, traffic=50, gate, stable=2
                              | new=3, traffic=75, gate, stable=1 | new=4, traffic=100, gate, stable=0
       4      4     0     1   | stable=3 | new=1, traffic=33, gate, stable=2 | new=2, traffic=67, gate,
                              | stable=1 | new=3, traffic=100, gate, stable=0 | new=4, gate
       4      4    25%   25%  | new=1, traffic=33, gate, stable=2 | new=3, traffic=100, gate, stable=0
       (= 1 / 1)              | new=4, gate
       4      0     1     0   | new=1, traffic=100, gate | new=2, gate | new=3, gate | new=4, gate
       4      2     1     0   | new=1, traffic=33, gate | new=2, traffic=50, gate
                              | new=3, traffic=75, gate, stable=1 | new=4, traffic=100, gate, stable=0
       2      6     1     0   | stable=2 | new=1, traffic=50, gate, stable=1 | new=2, traffic=100, gate,
                              | stable=0
       3      3    0%    25%  | stable=2 | new=1, traffic=50, gate, stable=1 | new=2, traffic=100, gate,
       (= 0 / 0 -> 0 / 1)     | stable=0 | new=3, gate
       0      3     1     0   | traffic=100, stable=0
"""

from __future__ import annotations

from controlplane.domain.manifest.strategy import RollingHealthGated
from controlplane.domain.rollout.steps import (
    RunHealthGate,
    ScaleRevision,
    SetTraffic,
    Step,
    require_counts,
    scaled_to_zero,
)


def resolve_batch_limits(strategy: RollingHealthGated, desired: int) -> tuple[int, int]:
    """``(surge, unavailable)`` as replica counts for ``desired`` replicas.

    maxSurge maxUnavailable desired | surge unavailable
    ------------------------------- | -----------------
       1          0            4    |   1       0
      25%        25%           4    |   1       1
      25%        25%          10    |   3       2        (2.5 up, 2.5 down)
      50%         0%           1    |   1       0
       0%        25%           3    |   0       1        (both 0: unavailable 1, as Kubernetes)
       3          2            0    |   3       2        (counts are not scaled)
    """
    surge = _resolve(strategy.max_surge, desired, round_up=True)
    unavailable = _resolve(strategy.max_unavailable, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _resolve(value: int | str, desired: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    scaled = desired * int(value.removesuffix("%"))
    return -(-scaled // 100) if round_up else scaled // 100


def traffic_share(new: int, stable: int) -> int | None:
    """Percent of traffic for new when new and stable run ``new`` and ``stable`` ready replicas.

    Rounded half up, but never 0 or 100 while both revisions run replicas (a running revision gets some
    traffic; the last stable replicas keep some). ``None`` when neither runs any: leave traffic as is.

        new stable | share
        ---------- | -----
         1     3   |  25
         1     2   |  33
         2     1   |  67
         1     0   | 100
         0     4   |   0
         1   300   |   1    (0.33 would starve new)
         0     0   | None
    """
    total = new + stable
    if total == 0:
        return None
    share = (200 * new + total) // (2 * total)
    if new and stable:
        share = min(max(share, 1), 99)
    return share


def plan_rolling(strategy: RollingHealthGated, desired: int, stable: int) -> list[Step]:
    """The steps that replace ``stable`` running replicas with ``desired`` new ones (see the module table)."""
    require_counts(desired, stable)
    if desired == 0:
        return scaled_to_zero(stable)
    surge, unavailable = resolve_batch_limits(strategy, desired)
    ceiling = desired + surge
    ready_floor = max(desired - unavailable, 0)
    batch_size = surge + unavailable
    steps: list[Step] = []
    new = traffic = batches = 0
    if stable >= ceiling:
        # No room for even one new replica: give up the unavailability budget first.
        stable = ready_floor
        steps.append(ScaleRevision("stable", stable))
    while new < desired:
        new += min(desired - new, ceiling - new - stable, batch_size)
        # Once the new replicas pass the gate they are ready, and stable may shrink to the ready floor.
        stable_after = stable - min(stable, max(new + stable - ready_floor, 0))
        batches += 1
        steps.append(ScaleRevision("new", new))
        share = traffic_share(new, stable_after)
        if share is not None and share != traffic:
            traffic = share
            steps.append(SetTraffic(traffic))
        steps.append(RunHealthGate(f"rolling batch {batches}: {new} of {desired} new replicas, {traffic}% traffic"))
        if stable_after < stable:
            stable = stable_after
            steps.append(ScaleRevision("stable", stable))
    return steps
