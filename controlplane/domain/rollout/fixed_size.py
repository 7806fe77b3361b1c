"""Plans for runtimes whose revisions have a fixed size (Azure Container Apps).

A Container Apps revision's scale settings are fixed when it is created: it cannot grow or shrink in
steps, only be activated or deactivated. Traffic weights, though, split requests between revisions
whatever their sizes. So on such a runtime a plan keeps its traffic steps and gates, and its replica
steps become: start the new revision at its full size where the plan first scales it up, and leave the
stable revision at its size until the plan retires it (scale to 0: deactivate). The rollback plan needs
no change: it only restores stable (already at size) and scales new to 0.

Worked examples (``describe`` notation):

    plan                                                           | fixed-size plan
    -------------------------------------------------------------- | -----------------------------------------
    new=1, traffic=25, gate, stable=3 | new=2, traffic=50, gate,   | new=4, traffic=25, gate | traffic=50, gate
    stable=2 | ... | new=4, traffic=100, gate, stable=0            | | ... | traffic=100, gate, stable=0
    stable=3 | new=1, traffic=33, gate, stable=2 | ...             | new=4, traffic=33, gate | ... (stable=3 dropped)
    new=4, preview=on, gate, ..., stable=0 after 60 s              | unchanged (blue-green is already fixed-size)
"""

from __future__ import annotations

from controlplane.domain.rollout.steps import ScaleRevision, Step


def fixed_size(plan: list[Step], desired: int) -> list[Step]:
    """``plan`` for fixed-size revisions: the new revision starts at ``desired``, stable only goes to 0."""
    fixed: list[Step] = []
    started = False
    for step in plan:
        if isinstance(step, ScaleRevision) and step.revision == "new":
            if step.replicas == 0 or not started:
                fixed.append(ScaleRevision("new", desired if step.replicas else 0))
                started = started or step.replicas > 0
            continue
        if isinstance(step, ScaleRevision) and step.revision == "stable" and step.replicas > 0:
            continue
        fixed.append(step)
    return fixed
