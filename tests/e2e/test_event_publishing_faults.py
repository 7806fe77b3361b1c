"""Event publishing fails for a whole deployment: nothing is lost, and once the bus is back the relay publishes
every logged event, in the log's order per trace, each id once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.servicebus.mapping import message_to_envelope
from controlplane.domain.events import Envelope
from controlplane.services.journal import lost_events
from funchost.azurite import Azurite
from funchost.functions import SERVICE_BUS
from funchost.servicebus.bus import LocalBus
from funchost.storage.azure_tables import AzureTables
from tests import product_app
from tests.e2e.host_process import HostProcess, product_settings
from tests.e2e.test_deployment_crash import release, wait_for_state

pytestmark = pytest.mark.slow  # waits in real time for the deployment and the relay


def published(bus: LocalBus, traceid: str) -> list[Envelope]:
    """What reached the local bus for one trace, in enqueue order."""
    return [message_to_envelope(m.fields.body, m.fields.content_type) for m in bus.events_for_trace(traceid)]


def test_events_logged_while_the_bus_fails_are_published_later_in_order_and_none_is_lost(
    azurite: Azurite, tmp_path: Path
) -> None:
    switch = tmp_path / "bus-down"
    settings = product_settings(
        tmp_path / "local",
        CONTROLPLANE_LOCAL_BUS_FAULT_FILE=str(switch),
        CONTROLPLANE_RELAY_SCHEDULE="*/2 * * * * *",
    )
    tables = AzureTables(
        TableServiceClient.from_connection_string(azurite.connection_string), settings["CONTROLPLANE_TABLE_PREFIX"]
    )
    bus = LocalBus(tables, product_app.index().of_type(SERVICE_BUS))  # read only: its message log
    host = HostProcess(azurite.connection_string, "function_app:app", tmp_path, settings)
    switch.touch()
    host.start()
    try:
        accepted = host.request("POST", "/api/deployments", release("busfault"))[1]
        traceid = accepted["traceId"]
        done = wait_for_state(host, accepted["deploymentId"], {"Completed", "RolledBack", "Failed"}, timeout=120)
        assert done["state"] == "Completed", done["transitions"]
        logged = [Envelope.from_dict(e) for e in host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]]
        assert any(e.type == "RuntimeDeploymentCompleted" for e in logged)
        assert published(bus, traceid) == [], "nothing reaches the bus while publishing fails"

        switch.unlink()
        deadline = time.monotonic() + 60
        while lost_events(logged, published(bus, traceid)) and time.monotonic() < deadline:
            time.sleep(0.5)
        on_bus = published(bus, traceid)
        assert lost_events(logged, on_bus) == [], "every logged event published, in log order"
        assert [e.id for e in on_bus] == [e.id for e in logged], "each id once, in the log's order"
    finally:
        host.stop()
