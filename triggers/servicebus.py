"""Service Bus triggers: consumers of the event topic. Each is idempotent (processed ids are remembered).

The trigger binds ``func.ServiceBusMessage``, which cannot settle its message: with host.json's
``autoCompleteMessages`` the host completes the message when the function returns and abandons it when the
function raises, and Service Bus then delivers it again at once, up to the subscription's MaxDeliveryCount
(10), before dead-lettering it with reason ``MaxDeliveryCountExceeded``. So a message this consumer can
never handle (a body that is no envelope) fails fast, before any side effect, with the reason in the error
and the log. Dead-lettering it at once with our own reason would need the Service Bus SDK-type binding
(``azurefunctions-extensions-bindings-servicebus``, preview), which this app does not use.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from controlplane.adapters.azure.servicebus.mapping import message_to_envelope
from controlplane.domain.events import Envelope
from controlplane.errors import InvalidEnvelope
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

    The subscription's SQL filter (``SUBSCRIPTION_FILTERS``) lets only HealthCheckCompleted in, on Azure and
    on the local bus. One without a valid envelope raises (see the module docstring).
    """
    envelope = received_envelope(message, "scaling")
    outcome = loops.scaler().on_event(envelope, datetime.now(UTC))
    if outcome is not None:
        log.info("scaling on %s: %s", envelope.id, outcome)


def received_envelope(message: func.ServiceBusMessage, consumer: str) -> Envelope:
    """The envelope ``message`` carries; InvalidEnvelope, logged with the message id and delivery count, when
    it carries none (see the module docstring)."""
    try:
        return message_to_envelope(message.get_body(), message.content_type)
    except InvalidEnvelope as error:
        log.error(
            "%s: message %s (delivery %s) carries no valid envelope; failing it, so that Service Bus "
            "dead-letters it at the subscription's max delivery count: %s",
            consumer,
            message.message_id,
            message.delivery_count,
            "; ".join(str(field) for field in error.errors),
        )
        raise
