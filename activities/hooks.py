"""The activity that calls a rollout webhook (``orchestrators/webhook_calls.py`` decides when and what follows).

Safe to run twice: a second run makes the call again with the same ``X-ControlPlane-Delivery`` (the receiver's
de-duplication key) and emits the same event id, which the event log and Service Bus drop as a duplicate.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity
from controlplane.bootstrap import ports
from controlplane.domain.gate_events import webhook_called
from controlplane.domain.hooks import hook_effect
from controlplane.domain.workflow.hook_requests import HookRequest
from controlplane.services import deployments

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
@traced_activity
def call_webhook(request: dict) -> dict[str, Any]:
    """Call one webhook (the HookCaller retries and never raises); emit RuntimeWebhookCalled; return the outcome."""
    hook = HookRequest.from_dict(request)
    wired = ports()
    outcome = wired.hooks.call(hook.call)
    called = webhook_called(hook.call, outcome, hook_effect(hook.call.type, outcome), hook.where)
    store = wired.store
    source = f"{wired.settings.event_source}/deployments"
    deployments.emit(
        store.deployments, store.event_log, wired.events, source, hook.deployment_id, called, hook.at, hook.event_id
    )
    return outcome.to_dict()
