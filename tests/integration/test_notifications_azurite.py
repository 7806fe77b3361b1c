"""The notifications consumer under the local bus on Azurite, posting to a webhook receiver on 127.0.0.1 over
real sockets: the product's ``notify_webhooks`` trigger, its subscription's SQL filter, ProcessedEvents on
Azurite and the urllib poster."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.servicebus.mapping import subscription_filters
from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.http.webhook import HttpWebhookPoster
from controlplane.adapters.local.event_bus import LocalEventBus
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.config import Settings
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope, TraceContext, new_event
from funchost.azurite import Azurite
from funchost.functions import SERVICE_BUS
from funchost.invoker import Invoker
from funchost.servicebus.bus import LocalBus
from funchost.servicebus.records import DEADLETTERED, DELIVERED
from funchost.storage.azure_tables import AzureTables
from tests import product_app
from tests.builders import T0, deployment
from tests.webhook_receiver import WebhookReceiver, webhook_receiver

pytestmark = pytest.mark.azurite

MAX_DELIVERIES = 3  # the subscription's MaxDeliveryCount, lowered to keep the dead-letter case short


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def bus(azurite: Azurite, table_prefix: str, receiver: WebhookReceiver) -> Iterator[LocalBus]:
    """The product's triggers on the local bus, with ports whose settings name the receiver's webhooks."""
    targets = [
        {"name": "prod-teams", "urlSetting": "HOOK_TEAMS", "format": "teams", "environments": ["prod"]},
        {"name": "broken", "urlSetting": "HOOK_BROKEN", "format": "json", "eventTypes": ["RuntimeDeploymentFailed"]},
    ]
    settings = Settings.from_environment(
        {
            "CONTROLPLANE_STORAGE": azurite.connection_string,
            "CONTROLPLANE_TABLE_PREFIX": table_prefix,
            "CONTROLPLANE_NOTIFICATIONS": json.dumps(targets),
            "CONTROLPLANE_NOTIFICATIONS_BACKOFF_SECONDS": "0",
            "HOOK_TEAMS": f"{receiver.url}/teams",
            "HOOK_BROKEN": f"{receiver.url}/broken",
        }
    )
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    tables = AzureTableDocuments(service, prefix=table_prefix)
    create_tables(tables)
    store = Stores.over(tables)
    store.deployments.create_deployment(deployment("dep-1", environment="prod"))
    use_ports(fake_ports(settings=settings, store=store, webhooks=HttpWebhookPoster(timeout_seconds=5)))
    bus_tables = AzureTables(TableServiceClient.from_connection_string(azurite.connection_string), table_prefix)
    triggers = product_app.index().of_type(SERVICE_BUS)
    local = LocalBus(
        bus_tables,
        triggers,
        Invoker(lambda _name: ""),
        max_delivery_count=MAX_DELIVERIES,
        filters=subscription_filters("events"),
    )
    local.create_tables()
    yield local
    local.stop()
    use_ports(None)


def event(event_type: EventType, **data: object) -> Envelope:
    return new_event(
        event_type,
        event_id=str(uuid.uuid4()),
        source="/tests",
        time=T0,
        trace=TraceContext(uuid.uuid4().hex, "dep-1"),
        data={"deploymentId": "dep-1", **data},
    )


def drain(bus: LocalBus) -> None:
    while bus.deliver_due():
        pass


def notified(bus: LocalBus, envelope: Envelope) -> list[str]:
    return [delivery.state for delivery in bus.deliveries(envelope.id) if "notifications" in delivery.subscription]


def test_a_completion_is_posted_once_to_the_target_that_wants_it_after_one_server_error(
    bus: LocalBus, receiver: WebhookReceiver
) -> None:
    receiver.script("/teams", 500, 200)
    completed = event(EventType.RUNTIME_DEPLOYMENT_COMPLETED, environment="prod", services={"orders": "orders-r2"})
    health = event(EventType.HEALTH_CHECK_COMPLETED, environment="prod", service="orders", revision="r", report={})
    LocalEventBus(bus).publish([health, completed])

    drain(bus)
    drain(bus)  # a redelivery, had there been one, is due at once

    assert receiver.answered == [("/teams", 500), ("/teams", 200)]  # retried within the one delivery
    (card,) = {json.dumps(body) for body in receiver.posted_to("/teams")}
    assert json.loads(card)["attachments"][0]["content"]["body"][0]["text"] == "Deployment completed"
    assert notified(bus, completed) == [DELIVERED]
    assert notified(bus, health) == []  # the subscription's filter keeps it out


def test_a_target_that_always_fails_gets_the_event_dead_lettered_with_its_answer_and_the_others_it_once(
    bus: LocalBus, receiver: WebhookReceiver
) -> None:
    receiver.script("/broken", 500)
    failed = event(EventType.RUNTIME_DEPLOYMENT_FAILED, reason="provisioning failed: quota")
    LocalEventBus(bus).publish([failed])

    drain(bus)

    (letter,) = [letter for letter in bus.dead_letters() if letter.message_id == failed.id]
    assert (letter.reason, letter.delivery_count) == ("MaxDeliveryCountExceeded", MAX_DELIVERIES)
    assert letter.last_error == (
        f"NotificationFailed: notification of event {failed.id} failed for broken: HTTP 500 Internal Server Error"
    )
    assert receiver.url not in letter.last_error
    assert len(receiver.posted_to("/broken")) == 3 * MAX_DELIVERIES  # three tries in each delivery
    # Failed names only its deployment: the record's environment (prod) picks the Teams target, posted once.
    assert len(receiver.posted_to("/teams")) == 1
    assert notified(bus, failed) == [DEADLETTERED]
