"""When the deployment orchestrator calls a release's webhooks, and what their answers do (Flagger's semantics;
the table is in ``controlplane.domain.manifest.webhooks``):

    pre_rollout(flow, target)              before the service's first rollout step; a failure: the reason to
                                           roll the release back
    at_gate(flow, target, gate, step)      after a gate's health gate passed: rollback hooks first (a 2xx asks
                                           for a rollback), then rollout hooks (a failure rolls back)
    confirm_promotion(flow, targets)       once every gate passed: holds until each confirm-promotion hook
                                           answers 2xx, asking again every ``intervalSeconds``; meanwhile the
                                           rollback hooks are polled and an operator's abort still works
    post_rollout(flow, state)              after the deployment ended; answers are recorded, nothing else

A hook applies per service (``Webhook.services``): it is called once for each service it applies to, with that
service in its body. Each call is one ``call_webhook`` activity, which emits RuntimeWebhookCalled; the
HookCaller behind it makes the HTTP retries, so an activity that still fails (its event could not be recorded)
counts as a call that got no answer.

A confirm-promotion hold has no timeout (as in Flagger): it ends when the hook confirms, a rollback hook asks
for a rollback, or an operator aborts. Each round of a hold adds a handful of history events (a call per hook,
a timer) that every later episode replays: 2,880 rounds a day at the default 30 s, so a hold meant to last days
wants a longer ``intervalSeconds``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.hooks import call_webhook
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.gate_events import promotion_held
from controlplane.domain.hooks import HookCall, HookOutcome
from controlplane.domain.manifest.webhooks import Webhook
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.hook_requests import HookRequest
from orchestrators.flow import Flow, Task

log = logging.getLogger(__name__)
# Retries of the activity, for a transient store error while recording its event; the HTTP retries are the
# HookCaller's (``Webhook.retries``). A repeated call carries the same delivery id, so its receiver can drop it.
ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=3)
# The ``step`` of calls that are not at a gate.
BEFORE_ROLLOUT = "before the first rollout step"
BEFORE_PROMOTION = "before promotion"
WHILE_HELD = "while promotion is held"
AFTER_ROLLOUT = "after the rollout"


def pre_rollout(flow: Flow, target: Target) -> Task:
    """Call the service's pre-rollout hooks in manifest order; the reason to roll back at the first that fails."""
    for hook in flow.release.webhooks_of(target.service, "pre-rollout"):
        outcome = yield from _call(flow, hook, target, None, BEFORE_ROLLOUT)
        if not outcome.succeeded:
            return _failed(hook, target, outcome)
    return None


def at_gate(flow: Flow, target: Target, gate: int, step: str) -> Task:
    """After gate ``gate`` (``step``) passed its health gate: the reason to roll back if a rollback hook asks for
    it or a rollout hook fails, else None."""
    failure = yield from _rollback_asked(flow, [target], gate, step)
    if failure:
        return failure
    for hook in flow.release.webhooks_of(target.service, "rollout"):
        outcome = yield from _call(flow, hook, target, gate, step)
        if not outcome.succeeded:
            return _failed(hook, target, outcome)
    return None


def confirm_promotion(flow: Flow, targets: Sequence[Target]) -> Task:
    """Hold until every confirm-promotion hook of every service answers 2xx; the reason to roll back (a rollback
    hook asked for it, or an operator aborted), or None. A hook that does not confirm is announced once
    (RuntimePromotionHeld) and asked again every ``intervalSeconds`` on a durable timer."""
    context = flow.context
    for target in targets:
        for hook in flow.release.webhooks_of(target.service, "confirm-promotion"):
            held = False
            while True:
                outcome = yield from _call(flow, hook, target, None, BEFORE_PROMOTION)
                if outcome.succeeded:
                    break
                if not held:
                    why = f"{_named(hook)} of {target.service} did not confirm: {_answer(outcome)}"
                    reason = f"{why}; asking again every {hook.interval_seconds} s"
                    yield from flow.emit(promotion_held(target.service, hook.name, reason))
                    context.set_custom_status({"state": flow.state.value, "held": reason})
                    held = True
                failure = yield from _rollback_asked(flow, targets, None, WHILE_HELD)
                if failure:
                    return failure
                until = context.current_utc_datetime + timedelta(seconds=hook.interval_seconds)
                failure = yield from flow.wait(context.create_timer(until))
                if failure:
                    return failure
    return None


def post_rollout(flow: Flow, state: DeploymentState) -> Task:
    """Call each post-rollout hook once per service of the release, with the state the deployment ended in.
    Its answer changes nothing, and a call that could not be made is an outcome like any other: never raises."""
    for target in flow.targets:
        for hook in flow.release.webhooks_of(target.service, "post-rollout"):
            yield from _call(flow, hook, target, None, AFTER_ROLLOUT, state=state.value)


def _rollback_asked(flow: Flow, targets: Sequence[Target], gate: int | None, step: str) -> Task:
    """Ask the targets' rollback hooks; the reason to roll back at the first that answers 2xx, else None."""
    for target in targets:
        for hook in flow.release.webhooks_of(target.service, "rollback"):
            outcome = yield from _call(flow, hook, target, gate, step)
            if outcome.succeeded:
                return f"{_named(hook)} asked for a rollback of {target.service} (HTTP {outcome.status})"
    return None


def _call(flow: Flow, hook: Webhook, target: Target, gate: int | None, step: str, **extra: Any) -> Task:
    """One call of ``hook`` for ``target``'s service; its outcome (an activity that failed: no answer)."""
    context = flow.context
    release = flow.release
    body = {
        "deploymentId": flow.deployment_id,
        "traceId": flow.traceid,
        "release": release.metadata.name,
        "environment": release.spec.environment.name,
        "service": target.service,
        "revision": target.new_revision,
        "gate": gate,
        "step": step,
        **extra,
    }
    call = HookCall.of(hook, str(context.new_uuid()), body)
    request = flow.stamped(HookRequest, target=target, call=call, gate=gate, step=step)
    try:
        return HookOutcome.from_dict((yield context.call_activity_with_retry(call_webhook, ACTIVITY_RETRY, request)))
    except Exception as error:  # the SDK's message is "{reason} \n {details}": the reason is enough here
        reason = str(error).strip().partition("\n")[0].rstrip() or type(error).__name__
        if not context.is_replaying:
            log.error("deployment %s (trace %s): %s not called: %s", flow.deployment_id, flow.traceid, hook.name, error)
        return HookOutcome(None, 0, f"not called: {reason}")


def _failed(hook: Webhook, target: Target, outcome: HookOutcome) -> str:
    return f"{_named(hook)} failed for {target.service}: {_answer(outcome)}"


def _named(hook: Webhook) -> str:
    return f"{hook.type} webhook {hook.name}"


def _answer(outcome: HookOutcome) -> str:
    """How a call ended, for a reason: "HTTP 500 after 3 attempts", "no answer (timed out) after 1 attempt"."""
    answer = f"HTTP {outcome.status}" if outcome.status is not None else f"no answer ({outcome.error or 'unknown'})"
    if outcome.attempts == 0:
        return answer
    return f"{answer} after {outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}"
