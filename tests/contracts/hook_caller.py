"""The HookCaller contract: the signed HTTP caller and the scripted fake both pass it.

Subclasses provide ``caller`` (a HookCaller) and ``answering``: ``answering(*statuses, retries=2)`` is a
``HookCall`` whose receiver answers every attempt with ``statuses[0]`` (None: nobody answers), or, for the
statuses listed, each in turn. Whatever happens, ``call`` returns an outcome: it never raises.
"""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.domain.hooks import HookOutcome


class HookCallerContract:
    @pytest.mark.parametrize("status", [200, 202, 204])
    def test_a_2xx_answer_succeeds_at_the_first_attempt(self, caller: Any, answering: Any, status: int) -> None:
        outcome = caller.call(answering(status))
        assert outcome == HookOutcome(status, 1, None) and outcome.succeeded

    @pytest.mark.parametrize("status", [408, 429, 500, 503])
    def test_a_retryable_answer_fails_once_the_retries_are_used_up(
        self, caller: Any, answering: Any, status: int
    ) -> None:
        outcome = caller.call(answering(status, retries=2))
        assert (outcome.status, outcome.attempts, outcome.succeeded) == (status, 3, False)
        assert str(status) in outcome.error

    @pytest.mark.parametrize("status", [400, 401, 404, 409])
    def test_any_other_4xx_is_the_receivers_answer_and_is_not_retried(
        self, caller: Any, answering: Any, status: int
    ) -> None:
        outcome = caller.call(answering(status, retries=2))
        assert (outcome.status, outcome.attempts, outcome.succeeded) == (status, 1, False)
        assert str(status) in outcome.error

    def test_no_answer_fails_without_a_status_after_every_attempt(self, caller: Any, answering: Any) -> None:
        outcome = caller.call(answering(None, retries=1))
        assert (outcome.status, outcome.attempts, outcome.succeeded) == (None, 2, False)
        assert outcome.error

    def test_no_retries_means_one_attempt(self, caller: Any, answering: Any) -> None:
        outcome = caller.call(answering(503, retries=0))
        assert (outcome.status, outcome.attempts) == (503, 1)

    def test_an_outcome_round_trips_through_its_wire_form(self, caller: Any, answering: Any) -> None:
        for outcome in (caller.call(answering(200)), caller.call(answering(500, retries=0))):
            assert HookOutcome.from_dict(outcome.to_dict()) == outcome
