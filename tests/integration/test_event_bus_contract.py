"""The EventBus contract on the local bus over a real Azurite Table service, and on the recording fake.

(The Service Bus adapter runs the same contract in tests/unit/test_servicebus_bus.py.)
"""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.servicebus.mapping import message_to_envelope
from controlplane.adapters.local.event_bus import LocalEventBus
from controlplane.domain.events import Envelope
from controlplane.testing.fakes import RecordingEventBus
from funchost.azurite import Azurite
from funchost.functions import SERVICE_BUS
from funchost.servicebus.bus import LocalBus
from funchost.storage.azure_tables import AzureTables
from tests import product_app
from tests.contracts.event_bus import TRACE, EventBusContract, Published


@pytest.mark.azurite
class TestLocalEventBus(EventBusContract):
    @pytest.fixture
    def local_bus(self, azurite: Azurite, table_prefix: str) -> LocalBus:
        tables = AzureTables(TableServiceClient.from_connection_string(azurite.connection_string), table_prefix)
        # Publishing only: the product's subscriptions of the event topic get deliveries, nothing delivers them.
        bus = LocalBus(tables, product_app.index().of_type(SERVICE_BUS))
        bus.create_tables()
        return bus

    @pytest.fixture
    def bus(self, local_bus: LocalBus) -> LocalEventBus:
        return LocalEventBus(local_bus)

    @pytest.fixture
    def published(self, local_bus: LocalBus) -> Published:
        def logged() -> list[Envelope]:
            messages = local_bus.events_for_trace(TRACE.traceid)
            return [message_to_envelope(m.fields.body, m.fields.content_type) for m in messages]

        return logged


class TestRecordingEventBus(EventBusContract):
    @pytest.fixture
    def bus(self) -> RecordingEventBus:
        return RecordingEventBus()

    @pytest.fixture
    def published(self, bus: RecordingEventBus) -> Published:
        return lambda: list(bus.published)
