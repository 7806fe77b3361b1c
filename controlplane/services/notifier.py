"""Notifications: post each notifiable event to the webhooks that want it, at most once per (target, event id).

One Service Bus delivery of an event runs ``Notifier.on_event``:

1. pick the targets (``select_targets``; an event that names no environment takes its deployment's);
2. for each, claim ``(notify-<target>, event id)`` in ProcessedEvents: a target already claimed (posted by an
   earlier delivery, or by a concurrent one) is skipped, so a redelivery posts only to the targets that failed;
3. POST, retrying a retryable answer (no answer, 408, 429, 5xx) after ``backoff_delays`` (or the receiver's
   Retry-After, when longer) up to ``attempts`` times within this delivery;
4. a target that still failed is un-claimed, and ``NotificationFailed`` names each such target and its last
   answer: the trigger raises it, the host abandons the message, Service Bus delivers it again, and after the
   subscription's MaxDeliveryCount it dead-letters it; the last error (the function's log, and the local
   bus's record) says which webhook answered what.

A claim is taken before the POST, so a process that dies between the webhook's 2xx and the end of the function
never posts twice (at most once); one that dies mid-POST leaves the claim, and that one notification is lost
(its ttl ends it). Webhook receivers have no idempotency key to make "exactly once" possible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.domain.events import Envelope
from controlplane.domain.notification_formats import render
from controlplane.domain.notifications import (
    NotificationTarget,
    WebhookAnswer,
    backoff_delays,
    environment_of,
    select_targets,
)
from controlplane.errors import NotFound, TransientError
from controlplane.ports import Deployments, ProcessedEvents, WebhookPoster

log = logging.getLogger(__name__)

# Longer than the topic's message ttl (14 days): a redelivered event is still recognised.
PROCESSED_TTL = timedelta(days=15)
BACKOFF_CAP_SECONDS = 8.0


class NotificationFailed(TransientError):
    """Some targets did not take the event; ``failures`` maps each target's name to its last answer."""

    def __init__(self, event_id: str, failures: dict[str, str]) -> None:
        self.failures = failures
        listed = "; ".join(f"{name}: {answer}" for name, answer in failures.items())
        super().__init__(f"notification of event {event_id} failed for {listed}")


@dataclass
class Notifier:
    targets: Sequence[NotificationTarget]
    processed_events: ProcessedEvents
    deployments: Deployments
    poster: WebhookPoster
    sleep: Callable[[float], None]
    attempts: int = 3
    backoff_seconds: float = 1.0

    def on_event(self, envelope: Envelope, now: datetime) -> list[str]:
        """Post ``envelope`` to every target that wants it and has not had it; the names posted to now.
        NotificationFailed (after the others were tried) when some target did not take it."""
        chosen = select_targets(self.targets, envelope, self._environment(envelope)) if self.targets else []
        delivered: list[str] = []
        failures: dict[str, str] = {}
        for target in chosen:
            consumer = f"notify-{target.name}"
            if not self.processed_events.mark_processed(consumer, envelope.id, envelope.time, now, PROCESSED_TTL):
                continue
            answer = self._deliver(target, envelope)
            if answer.delivered:
                delivered.append(target.name)
                continue
            self.processed_events.forget_processed(consumer, envelope.id, envelope.time, PROCESSED_TTL)
            failures[target.name] = answer.describe()
        if failures:
            raise NotificationFailed(envelope.id, failures)
        return delivered

    def _deliver(self, target: NotificationTarget, envelope: Envelope) -> WebhookAnswer:
        body = render(envelope, target.format)
        delays = backoff_delays(self.attempts, self.backoff_seconds, BACKOFF_CAP_SECONDS)
        answer = self.poster.post(target.url, body)
        for attempt, delay in enumerate(delays, start=1):
            if answer.delivered or not answer.retryable:
                break
            log.warning(
                "notify %s of %s (%s): attempt %d got %s; retrying",
                target.name,
                envelope.id,
                envelope.type,
                attempt,
                answer.describe(),
            )
            self.sleep(max(delay, min(answer.retry_after or 0.0, BACKOFF_CAP_SECONDS)))
            answer = self.poster.post(target.url, body)
        return answer

    def _environment(self, envelope: Envelope) -> str | None:
        """The event's environment; RolledBack and Failed name only their deployment, whose record has it."""
        environment = environment_of(envelope.data)
        deployment_id = envelope.data.get("deploymentId")
        if environment is not None or not isinstance(deployment_id, str):
            return environment
        try:
            return self.deployments.get_deployment(deployment_id).environment
        except NotFound:
            return None
