"""Event publishing fails for a whole deployment: nothing is lost, and once the bus is back the relay publishes
every logged event, in the log's order per trace, each id once."""

from __future__ import annotations

from pathlib import Path

import pytest

from funchost.azurite import Azurite
from tests.e2e.fault_cases import run_bus_outage

pytestmark = pytest.mark.slow  # waits in real time for the deployment and the relay


def test_events_logged_while_the_bus_fails_are_published_later_in_order_and_none_is_lost(
    azurite: Azurite, tmp_path: Path
) -> None:
    outcome = run_bus_outage(azurite.connection_string, tmp_path)
    assert outcome.state == "Completed"
    assert any(event.type == "RuntimeDeploymentCompleted" for event in outcome.logged)
    assert outcome.published_during == 0, "nothing reaches the bus while publishing fails"
    assert outcome.lost_events == [], "every logged event published, in log order"
    assert [e.id for e in outcome.published] == [e.id for e in outcome.logged], "each id once, in the log's order"
