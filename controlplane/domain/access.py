"""Who may do what: the app roles, the caller as an ``Actor``, and the roles each action needs.

The app registration declares four app roles; Entra ID sends the ones assigned to a user, group or service
principal as ``roles`` claims. Roles are not ranked: each action lists the roles that allow it, and every
role may read.

    action          | roles that allow it                 | routes
    ----------------+-------------------------------------+-------------------------------------------------
    read            | Reader, Deployer, Approver, Operator| every GET, the Runtime Center page
    deploy          | Deployer                            | POST /deployments
    approve         | Approver                            | POST /deployments/{id}/approve
    abort           | Approver, Operator                  | POST /deployments/{id}/abort
    rollback        | Deployer, Operator                  | POST /deployments/{id}/rollback
    decide-finding  | Operator                            | POST /drift/findings/{id}/approve, .../dismiss
    run-drift       | Operator                            | POST /drift/runs
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controlplane.domain.wire import WireFields
from controlplane.errors import InvalidInput


class Role(StrEnum):
    """An app role's value, as the ``roles`` claim carries it."""

    READER = "Reader"
    DEPLOYER = "Deployer"
    APPROVER = "Approver"
    OPERATOR = "Operator"


class Action(StrEnum):
    """Something a caller asks the control plane to do."""

    READ = "read"
    DEPLOY = "deploy"
    APPROVE = "approve"
    ABORT = "abort"
    ROLLBACK = "rollback"
    DECIDE_FINDING = "decide-finding"
    RUN_DRIFT = "run-drift"


ALLOWED_ROLES: dict[Action, frozenset[Role]] = {
    Action.READ: frozenset(Role),
    Action.DEPLOY: frozenset({Role.DEPLOYER}),
    Action.APPROVE: frozenset({Role.APPROVER}),
    Action.ABORT: frozenset({Role.APPROVER, Role.OPERATOR}),
    Action.ROLLBACK: frozenset({Role.DEPLOYER, Role.OPERATOR}),
    Action.DECIDE_FINDING: frozenset({Role.OPERATOR}),
    Action.RUN_DRIFT: frozenset({Role.OPERATOR}),
}


class InvalidActor(InvalidInput):
    """A recorded actor that does not parse."""

    what = "actor"


@dataclass(frozen=True)
class Actor:
    """The authenticated caller: a readable ``name``, the directory ``object_id``, and its app ``roles``
    (every ``roles`` claim, known to this app or not, so the audit shows what the token said)."""

    name: str
    object_id: str
    roles: tuple[str, ...]

    def may(self, action: Action) -> bool:
        """Whether one of the actor's roles allows ``action``."""
        return any(role in ALLOWED_ROLES[action] for role in self.roles)

    def actions(self) -> list[Action]:
        """Every action the actor may take, in ``Action`` order (what the page offers)."""
        return [action for action in Action if self.may(action)]

    def same_person(self, other: Actor) -> bool:
        """Whether ``other`` is this actor: the same object id (names can repeat or change)."""
        return self.object_id == other.object_id

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "objectId": self.object_id, "roles": list(self.roles)}

    @classmethod
    def from_dict(cls, data: object) -> Actor:
        fields = WireFields(data)
        name, object_id, roles = fields.text("name"), fields.text("objectId"), fields.string_list("roles")
        if fields.errors:
            raise InvalidActor(fields.errors)
        return cls(name, object_id, tuple(roles))


def required_roles(action: Action) -> list[str]:
    """The roles that allow ``action``, in ``Role`` order (for a 403's detail)."""
    return [role.value for role in Role if role in ALLOWED_ROLES[action]]
