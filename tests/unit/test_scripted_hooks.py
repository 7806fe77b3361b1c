"""The scripted HookCaller fake passes the HookCaller contract its HTTP adapter passes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controlplane.domain.hooks import HookCall
from controlplane.testing.hooks import ScriptedHooks
from tests.contracts.hook_caller import HookCallerContract


class TestScriptedHooks(HookCallerContract):
    @pytest.fixture
    def caller(self) -> ScriptedHooks:
        return ScriptedHooks()

    @pytest.fixture
    def answering(self, caller: ScriptedHooks) -> Callable[..., HookCall]:
        made: list[str] = []

        def answering(*statuses: int | None, retries: int = 2) -> HookCall:
            hook = f"hook-{len(made)}"
            made.append(hook)
            caller.script(hook, *statuses)
            return HookCall(hook, "rollout", "https://hooks.example/x", f"delivery-{hook}", 5, retries, None, {})

        return answering


def test_each_call_takes_the_next_scripted_status_and_is_recorded() -> None:
    hooks = ScriptedHooks()
    hooks.script("gate", 503, 200)
    call = HookCall("gate", "rollout", "https://hooks.example/x", "d-1", 5, 1, None, {})
    outcomes = [hooks.call(call), hooks.call(call), hooks.call(call)]
    assert [(outcome.status, outcome.attempts) for outcome in outcomes] == [(503, 2), (200, 1), (200, 1)]
    assert hooks.called("gate") == [call, call, call] and hooks.called("other") == []
