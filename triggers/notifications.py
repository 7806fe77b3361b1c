"""The notifications consumer: posts deployment outcomes, incidents and findings awaiting review to webhooks.

Its own subscription (``notifications``, SQL filter in ``SUBSCRIPTION_FILTERS``) takes the notifiable types on
Azure and on the local bus. Like the scaling consumer (``triggers/servicebus.py``), it binds
``func.ServiceBusMessage``, which cannot settle its message: a webhook that still fails after the in-delivery
retries makes the function raise, the host abandons the message, Service Bus delivers it again, and after the
subscription's MaxDeliveryCount (10) dead-letters it (``MaxDeliveryCountExceeded``); the exception, logged with
the message id on every delivery, names each failing target and its last answer, never its URL.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.services.notifier import Notifier
from triggers.servicebus import received_envelope

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.service_bus_topic_trigger(
    arg_name="message",
    topic_name="events",
    subscription_name="notifications",
    connection="ServiceBusConnection",
)
def notify_webhooks(message: func.ServiceBusMessage) -> None:
    """A notifiable event -> a POST to each webhook target that wants it (``CONTROLPLANE_NOTIFICATIONS``)."""
    envelope = received_envelope(message, "notifications")
    delivered = notifier().on_event(envelope, datetime.now(UTC))
    if delivered:
        log.info("notified %s of %s (%s)", ", ".join(delivered), envelope.id, envelope.type)


def notifier() -> Notifier:
    wired = ports()
    return Notifier(
        targets=wired.settings.notifications,
        processed_events=wired.store.processed_events,
        deployments=wired.store.deployments,
        poster=wired.webhooks,
        sleep=time.sleep,
        backoff_seconds=wired.settings.notification_backoff_seconds,
    )
