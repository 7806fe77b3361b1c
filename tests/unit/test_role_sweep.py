"""The role sweep's verdicts (tests/e2e/role_sweep.py): what counts as a leak and as a wrong answer, so that a
green sweep means what its table says."""

from __future__ import annotations

from controlplane.domain.access import ALLOWED_ROLES, Action, Role
from tests.e2e.role_sweep import KEYS, ROLE_CALLERS, SERVED, Caller, Case, expected


def case(caller: Caller, action: Action, status: int, required: tuple[str, ...] | None = None) -> Case:
    return Case(
        "f", action, "POST", "http://127.0.0.1/api/x", caller, "token", expected(caller, action), status, required
    )


def test_nobody_and_every_key_or_forged_credential_expect_401_and_a_role_expects_its_table() -> None:
    for caller in (Caller.NONE, *KEYS, Caller.FOREIGN_TOKEN, Caller.EXPIRED_TOKEN, Caller.FORGED_PRINCIPAL):
        assert {expected(caller, action) for action in Action} == {401}
    assert {expected(Caller.NO_ROLE, action) for action in Action} == {403}
    for caller, role in ROLE_CALLERS.items():
        for action in Action:
            assert expected(caller, action) == (SERVED if role in ALLOWED_ROLES[action] else 403)
    assert expected(Caller.READER, Action.READ) == SERVED and expected(Caller.READER, Action.DEPLOY) == 403
    assert ROLE_CALLERS[Caller.OPERATOR] is Role.OPERATOR


def test_a_refused_call_answered_is_a_leak_and_a_403_must_name_the_roles_needed() -> None:
    assert case(Caller.READER, Action.DEPLOY, 202).leak
    assert case(Caller.HOST_KEY, Action.READ, 404).leak  # the function ran: a 404 of its own
    assert not case(Caller.NONE, Action.READ, 403).leak and not case(Caller.NONE, Action.READ, 403).right
    assert case(Caller.READER, Action.DEPLOY, 403, ("Deployer",)).right
    assert not case(Caller.READER, Action.DEPLOY, 403, None).right  # a 403 that is not the app's problem
    assert not case(Caller.READER, Action.DEPLOY, 403, ("Operator",)).right
    assert case(Caller.OPERATOR, Action.ROLLBACK, 404).right  # served: the placeholder id is not found
    assert not case(Caller.OPERATOR, Action.ROLLBACK, 403, ("Deployer", "Operator")).right
