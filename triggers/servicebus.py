"""Service Bus triggers: consumers of the event topic. Each is idempotent (processed ids are remembered)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from controlplane.adapters.servicebus_mapping import message_to_envelope
from triggers import loops

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.service_bus_topic_trigger(
    arg_name="message",
    topic_name="events",
    subscription_name="scaling",
    connection="ServiceBusConnection",
)
def scaling_on_health_check(message: func.ServiceBusMessage) -> None:
    """HealthCheckCompleted -> evaluate that service's scaling policy (duplicates are dropped).

    A message that carries no valid envelope raises, so the host retries it and then dead-letters it
    with the reason; in Azure the subscription's SQL filter delivers only HealthCheckCompleted.
    """
    envelope = message_to_envelope(message.get_body(), message.content_type)
    outcome = loops.scaler().on_event(envelope, datetime.now(UTC))
    if outcome is not None:
        log.info("scaling on %s: %s", envelope.id, outcome)
