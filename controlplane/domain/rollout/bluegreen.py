"""BlueGreen: start the new revision at full size beside the stable one, gate it on preview, switch at once.

The new revision runs ``desired`` replicas and is reachable on the preview endpoint only; the gate
probes it there. Promotion waits ``autoPromotionSeconds`` (0 = promote as soon as the gate passes) or,
without it, for manual approval. Then all production traffic switches to new and is gated again under
real load while stable still runs, the preview is withdrawn, and stable is kept for
``scaleDownDelaySeconds`` more so a rollback stays instant (only traffic moves back).

Worked examples (``describe`` notation):

    desired stable autoPromotion scaleDownDelay | plan
    ------------------------------------------- | ----------------------------------------------------------
       3      3        None           30        | new=3, preview=on, gate, approval, traffic=100, gate,
                                                | preview=off, stable=0 after 30s
       3      3         60            30        | new=3, preview=on, gate, pause=60s, traffic=100, gate,
                                                | preview=off, stable=0 after 30s
       2      5          0             0        | new=2, preview=on, gate, traffic=100, gate, preview=off,
                                                | stable=0 after 0s
       2      0        None           30        | new=2, preview=on, gate, approval, traffic=100, gate,
                                                | preview=off      (no stable revision to keep)
       0      3        None           30        | traffic=100, stable=0
"""

from __future__ import annotations

from controlplane.domain.manifest.strategy import BlueGreen
from controlplane.domain.rollout.steps import (
    AwaitApproval,
    Pause,
    RunHealthGate,
    ScaleDownStableAfter,
    ScaleRevision,
    SetPreview,
    SetTraffic,
    Step,
    require_counts,
    scaled_to_zero,
)


def plan_blue_green(strategy: BlueGreen, desired: int, stable: int) -> list[Step]:
    """The blue-green steps for ``desired`` new replicas beside ``stable`` ones (see the module table)."""
    require_counts(desired, stable)
    if desired == 0:
        return scaled_to_zero(stable)
    steps: list[Step] = [
        ScaleRevision("new", desired),
        SetPreview(True),
        RunHealthGate(f"blue-green preview: {desired} replicas, no production traffic"),
    ]
    if strategy.auto_promotion_seconds is None:
        steps.append(AwaitApproval("promote the blue-green preview to production"))
    elif strategy.auto_promotion_seconds > 0:
        steps.append(Pause(strategy.auto_promotion_seconds))
    steps += [
        SetTraffic(100),
        RunHealthGate(f"blue-green switched: 100% traffic on {desired} replicas, stable kept"),
        SetPreview(False),
    ]
    if stable > 0:
        steps.append(ScaleDownStableAfter(strategy.scale_down_delay_seconds))
    return steps
