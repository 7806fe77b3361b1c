"""The fault cases of issue 12 as runnable scenarios with their figures: the bus failing for a whole
deployment (``lost_events``) and storage going away and coming back mid-deployment (what clients got).

Used by ``tests/e2e/test_event_publishing_faults.py``, ``tests/e2e/test_storage_outage.py`` and
``bench/reliability.py``.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient

from controlplane.adapters.azure.servicebus.mapping import message_to_envelope
from controlplane.domain.events import Envelope
from controlplane.testing.event_order import lost_events
from funchost.azurite import Azurite
from funchost.functions import SERVICE_BUS
from funchost.servicebus.bus import LocalBus
from funchost.storage.azure_tables import AzureTables
from tests import product_app
from tests.e2e.host_process import ROOT, HostProcess, product_settings
from tests.e2e.scenario import (
    TERMINAL_EVENTS,
    TERMINAL_STATES,
    events_when_ended,
    raw_request,
    shortened,
    wait_state,
    wait_terminal,
)

RELEASE = "v1-rolling"


@dataclass(frozen=True)
class BusOutage:
    state: str  # the deployment's, run entirely while publishing failed
    published_during: int  # envelopes of its trace that reached the bus while it failed
    logged: list[Envelope]
    published: list[Envelope]  # what reached the bus once it was back, in enqueue order

    @property
    def lost_events(self) -> list[str]:
        """Logged events never published, or published before an earlier event of their trace."""
        return lost_events(self.logged, self.published)

    def figures(self) -> dict[str, Any]:
        """The reliability report's keys for this case."""
        return {"lost_events": len(self.lost_events), "bus_outage_published_during": self.published_during}


@dataclass
class StorageOutage:
    stopped_in: str = ""  # the deployment's state when storage went away
    state: str = ""  # the deployment's once storage was back
    answers: list[tuple[int, dict[str, str], str]] = field(default_factory=list)  # status, headers, body meanwhile
    host_survived: bool = False
    timers_after: bool = False  # a timer function ran after storage came back
    deliveries_after: bool = False  # the local bus delivered to a Service Bus trigger after storage came back
    terminal_events: int = 0
    duplicate_event_ids: int = 0
    leaked: list[str] = field(default_factory=list)  # storage details found in what clients read

    def figures(self) -> dict[str, Any]:
        """The reliability report's keys for this case: what clients got meanwhile, and how it ended."""
        return {
            "storage_outage_statuses": [status for status, _, _ in self.answers],
            "storage_outage_leaks": len(self.leaked),
            "storage_outage_recovered": self.host_survived
            and self.state == "Completed"
            and self.terminal_events == 1
            and self.timers_after
            and self.deliveries_after,
        }


def run_bus_outage(storage: str, workdir: Path, wait_after: float = 60) -> BusOutage:
    """A deployment while the local bus's fault switch is on; then the switch off and the relay's work."""
    switch = workdir / "bus-down"
    settings = product_settings(
        workdir / "local", CONTROLPLANE_LOCAL_BUS_FAULT_FILE=str(switch), CONTROLPLANE_RELAY_SCHEDULE="*/2 * * * * *"
    )
    tables = AzureTables(TableServiceClient.from_connection_string(storage), settings["CONTROLPLANE_TABLE_PREFIX"])
    bus = LocalBus(tables, product_app.index().of_type(SERVICE_BUS))  # read only: its message log
    host = HostProcess(storage, "function_app:app", workdir, settings)
    switch.touch()
    host.start()
    try:
        accepted = host.request("POST", "/api/deployments", shortened(RELEASE))[1]
        traceid = accepted["traceId"]
        state = wait_terminal(host, accepted["deploymentId"])
        logged = [Envelope.from_dict(e) for e in events_when_ended(host, traceid)]
        during = len(_published(bus, traceid))
        switch.unlink()
        deadline = time.monotonic() + wait_after
        while lost_events(logged, _published(bus, traceid)) and time.monotonic() < deadline:
            time.sleep(0.5)
        return BusOutage(state, during, logged, _published(bus, traceid))
    finally:
        host.stop()


def run_storage_outage(workdir: Path) -> StorageOutage:
    """A deployment on a host over an Azurite of its own, stopped while the deployment health-gates and
    started again (same ports, same data) after clients tried every kind of request."""
    outcome = StorageOutage()
    azurite = Azurite(ROOT, location=workdir / "azurite").start()  # its own: stopping it hurts nobody else
    settings = product_settings(workdir / "local", CONTROLPLANE_SCALING_SCHEDULE="*/2 * * * * *")
    host = HostProcess(azurite.connection_string, "function_app:app", workdir, settings)
    try:
        host.start()
        accepted = host.request("POST", "/api/deployments", shortened(RELEASE))[1]
        deployment_id, traceid = accepted["deploymentId"], accepted["traceId"]
        outcome.stopped_in = wait_state(host, deployment_id, {"HealthGating", *TERMINAL_STATES})
        azurite.stop()
        outcome.answers = [
            raw_request(host, "GET", f"/api/deployments/{deployment_id}"),
            raw_request(host, "GET", "/api/deployments"),
            raw_request(host, "POST", "/api/deployments", shortened("v2-canary")),
            raw_request(host, "POST", f"/api/deployments/{deployment_id}/abort", {"reason": "outage"}),
            raw_request(host, "GET", f"/api/events?traceId={traceid}"),
        ]
        secrets = (str(azurite.port), str(azurite.blob_port), "devstoreaccount1", "Traceback", str(workdir))
        outcome.leaked = [leak for _, _, text in outcome.answers for leak in secrets if leak in text]
        outcome.host_survived = host.running
        azurite.start()
        back = len(host.log())
        outcome.state = wait_terminal(host, deployment_id)
        events = events_when_ended(host, traceid)
        deadline = time.monotonic() + 30
        while not (outcome.timers_after and outcome.deliveries_after) and time.monotonic() < deadline:
            after = host.log()[back:]
            outcome.timers_after = "timer scaling_timer firing" in after
            outcome.deliveries_after = "triggers.servicebus: scaling on" in after
            time.sleep(0.5)
        outcome.terminal_events = sum(e["type"] in TERMINAL_EVENTS for e in events)
        outcome.duplicate_event_ids = sum(c - 1 for c in Counter(e["id"] for e in events).values())
        return outcome
    finally:
        host.stop()
        azurite.stop()


def _published(bus: LocalBus, traceid: str) -> list[Envelope]:
    return [message_to_envelope(m.fields.body, m.fields.content_type) for m in bus.events_for_trace(traceid)]
