"""Who may release a deployment's wait for approval, and who may abort it: the rule the API applies before
raising the signal and the orchestrator applies again when the signal arrives (defence in depth: the Durable
webhook can raise an event without the API).

    signal  | refused when                                                          | API answer
    --------+-----------------------------------------------------------------------+-----------
    approve | the actor has no Approver role                                        | 403
    approve | four-eyes holds for the deployment and the actor is its requester      | 403
    abort   | the actor has neither Approver nor Operator                           | 403

Four-eyes (``CONTROLPLANE_FOUR_EYES``, on by default) holds for a deployment to a production environment
(the manifest's ``spec.environment.tier: prod``): every approval of it, the promotion and a manual canary
step alike, since both move production traffic, needs someone other than the person who requested it
(the same object id, whatever the name). It is decided when the deployment is requested and kept in its
record (``fourEyes``), so the API and the orchestration judge by the same rule even if the setting changes
while the deployment waits. A deployment the control plane started itself (a drift remediation, the
failure monitor's restore) has no requester and is pre-approved.
"""

from __future__ import annotations

from controlplane.domain.access import Action, Actor, required_roles
from controlplane.domain.manifest import Release

FOUR_EYES_SETTING = "CONTROLPLANE_FOUR_EYES"
FOUR_EYES_RULE = "four-eyes"
PROD_TIER = "prod"


def four_eyes_applies(release: Release, enabled: bool) -> bool:
    """Whether approving ``release`` needs someone other than its requester: the setting is on and the
    release goes to a production environment."""
    return enabled and release.spec.environment.tier == PROD_TIER


def approval_refusal(approver: Actor, requester: Actor | None, four_eyes: bool) -> str | None:
    """Why ``approver`` may not approve a deployment ``requester`` asked for, or None."""
    if not approver.may(Action.APPROVE):
        return _role_refusal(approver, Action.APPROVE)
    if four_eyes and requester is not None and approver.same_person(requester):
        return (
            f"{FOUR_EYES_RULE}: {approver.name} requested this production deployment, so someone else with the "
            f"Approver role must approve it ({FOUR_EYES_SETTING})"
        )
    return None


def abort_refusal(actor: Actor) -> str | None:
    """Why ``actor`` may not abort a deployment, or None."""
    return None if actor.may(Action.ABORT) else _role_refusal(actor, Action.ABORT)


def _role_refusal(actor: Actor, action: Action) -> str:
    roles = ", ".join(actor.roles) if actor.roles else "no app role"
    return f"{action.value} needs the app role {' or '.join(required_roles(action))}; {actor.name} has {roles}"
