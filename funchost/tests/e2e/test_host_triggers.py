"""Timer and Service Bus triggers through the real host process (``python -m funchost start``).

Functions under test are in funchost/tests/apps/durable_app.py: ``tick_every_two_seconds`` and
``tick_every_minute`` append to TIMER_TEST_LOG, ``start_chain_on_timer`` starts ``chain`` when
TIMER_STARTS_ORCHESTRATION is set, and ``on_bus_event`` (topic ``events``, subscription ``e2e``) appends each
delivery to BUS_TEST_LOG. Each host gets its own host id, so the bus and timer-status tables of one test are
invisible to the others.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from funchost.azurite import Azurite
from funchost.ncrontab import CronSchedule
from funchost.servicebus.message import Message
from funchost.servicebus.records import DEADLETTERED, DELIVERED
from funchost.storage.azure_tables import AzureTables
from funchost.storage.tables import Entity
from funchost.tests.e2e.bus_client import CLOUDEVENTS, BusClient, event_message, new_traceid
from funchost.tests.e2e.host_process import DURABLE_APP, HostProcess
from funchost.tests.e2e.observe import json_lines, wait_until
from funchost.timers import STATUS_PARTITION, STATUS_TABLE, ScheduleStatus


@dataclass
class RunningHost:
    host: HostProcess
    prefix: str
    timer_log: Path
    bus_log: Path
    bus: BusClient

    def timer_records(self, timer: str) -> list[dict]:
        return [record for record in json_lines(self.timer_log) if record["timer"] == timer]

    def deliveries_of(self, message_id: str) -> list[dict]:
        return [record for record in json_lines(self.bus_log) if record["message_id"] == message_id]

    def wait_settled(self, message_id: str, state: str, timeout: float = 10) -> None:
        wait_until(lambda: self.bus.delivery(message_id).state == state, timeout, f"{message_id} {state}")


def _host(azurite: Azurite, directory: Path, **env: str) -> RunningHost:
    timer_log, bus_log = directory / "timers.jsonl", directory / "bus.jsonl"
    settings = {"TIMER_TEST_LOG": str(timer_log), "BUS_TEST_LOG": str(bus_log)}
    host = HostProcess(azurite.connection_string, DURABLE_APP, directory, {**settings, **env})
    prefix = host.table_prefix
    return RunningHost(host, prefix, timer_log, bus_log, BusClient(azurite.connection_string, prefix))


@pytest.fixture
def fresh(azurite: Azurite, tmp_path: Path) -> Iterator[RunningHost]:
    """A host of this test alone, started; for tests that kill it or need particular settings."""
    running = _host(azurite, tmp_path)
    running.host.start()
    yield running
    running.host.stop()


@pytest.fixture(scope="class")
def shared(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    """One host for the tests that only watch it; torn down before the next test that starts its own host."""
    running = _host(azurite, tmp_path_factory.mktemp("shared-host"))
    running.host.start()
    yield running
    running.host.stop()


class TestOnOneRunningHost:
    def test_a_two_second_timer_fires_repeatedly_and_not_past_due(self, shared: RunningHost) -> None:
        seen = len(shared.timer_records("two_seconds"))
        wait_until(lambda: len(shared.timer_records("two_seconds")) >= seen + 2, 6, "two more firings")
        records = shared.timer_records("two_seconds")
        assert [record["past_due"] for record in records] == [False] * len(records)
        times = [datetime.fromisoformat(record["at"]) for record in records]
        assert all(later - earlier >= timedelta(seconds=1.5) for earlier, later in pairwise(times))

    def test_timer_functions_receive_a_func_timer_request(self, shared: RunningHost) -> None:
        record = wait_until(lambda: shared.timer_records("two_seconds"), 4, "a firing")[0]
        assert record["type"] == "azure.functions.timer.TimerRequest"

    def test_a_published_event_is_delivered_once_with_its_message_fields(self, shared: RunningHost) -> None:
        traceid = new_traceid()
        event = event_message("HealthCheckCompleted", traceid, {"service": "orders", "environment": "dev"})
        shared.bus.publish(event)
        shared.wait_settled(event.message_id, DELIVERED, timeout=5)
        (record,) = shared.deliveries_of(event.message_id)
        assert record == {
            "message_id": event.message_id,
            "correlation_id": traceid,
            "delivery_count": 1,
            "type": "HealthCheckCompleted",
            "subject": "HealthCheckCompleted",
            "content_type": CLOUDEVENTS,
        }

    def test_a_duplicate_message_id_is_not_delivered_twice(self, shared: RunningHost) -> None:
        traceid = new_traceid()
        event = event_message("ScalingPolicyApplied", traceid)
        shared.bus.publish(event)
        shared.wait_settled(event.message_id, DELIVERED, timeout=5)
        shared.bus.publish(event)  # a retried publish: same id
        shared.bus.publish(event_message("ScalingPolicyApplied", traceid, {"retry": True}, event.message_id))
        marker = event_message("ScalingPolicyViolated", traceid)
        shared.bus.publish(marker)  # delivered in sequence order, after anything the duplicates had queued
        shared.wait_settled(marker.message_id, DELIVERED, timeout=5)
        assert len(shared.deliveries_of(event.message_id)) == 1
        assert shared.bus.delivery(event.message_id).delivery_count == 1

    def test_a_failing_message_is_redelivered_at_once_and_dead_lettered_after_ten_deliveries(
        self, shared: RunningHost
    ) -> None:
        """The host abandons the message when the function raises; Service Bus makes it available again at
        once and dead-letters it itself after MaxDeliveryCount (10) deliveries."""
        event = event_message("RuntimeDriftDetected", new_traceid(), {"fail": True})
        shared.bus.publish(event)
        shared.wait_settled(event.message_id, DEADLETTERED, timeout=20)
        assert [record["delivery_count"] for record in shared.deliveries_of(event.message_id)] == list(range(1, 11))
        letter = shared.bus.delivery(event.message_id)
        assert (letter.delivery_count, letter.reason, letter.description) == (
            10,
            "MaxDeliveryCountExceeded",
            "Message couldn't be consumed after maximum delivery attempts.",
        )
        assert letter.last_error == "RuntimeError: failing on purpose (delivery 10)"

    def test_a_message_that_is_not_a_cloudevent_reaches_the_function(self, shared: RunningHost) -> None:
        """Service Bus and the host deliver any body; what to do with it is the function's business."""
        traceid = new_traceid()
        plain_text = Message(str(uuid.uuid4()), traceid, "Note", "text/plain", {}, b"hello")
        not_an_event = Message(str(uuid.uuid4()), traceid, None, CLOUDEVENTS, {}, b'{"specversion": "1.0"}')
        not_json = Message(str(uuid.uuid4()), traceid, None, CLOUDEVENTS, {}, b"{oops")
        shared.bus.publish(plain_text, not_an_event, not_json)
        for message in (plain_text, not_an_event, not_json):
            shared.wait_settled(message.message_id, DELIVERED, timeout=5)
            (record,) = shared.deliveries_of(message.message_id)
            assert (record["content_type"], record["delivery_count"]) == (message.content_type, 1)


def _rewind_minute_timer(azurite: Azurite, prefix: str, minutes: int) -> None:
    """Store the minute timer's status as the host would have left it had it stopped ``minutes`` ago."""
    tables = AzureTables(TableServiceClient.from_connection_string(azurite.connection_string), prefix=prefix)
    then = datetime.now(UTC) - timedelta(minutes=minutes)
    status = ScheduleStatus(last=None, next=CronSchedule.parse("0 * * * * *").next_after(then), last_updated=then)
    tables.upsert(STATUS_TABLE, Entity(STATUS_PARTITION, "tick_every_minute", status.to_body()))


def test_after_a_crash_a_monitored_timer_fires_once_past_due(fresh: RunningHost, azurite: Azurite) -> None:
    """Only monitored timers catch up: as in Azure, a schedule firing more than once a minute is never monitored,
    so the two-second timer just resumes its schedule (past_due False) after the host was down."""
    wait_until(lambda: fresh.timer_records("two_seconds"), 4, "a firing before the crash")
    fresh.host.kill()
    killed_at = datetime.now(UTC)
    time.sleep(2.5)  # the two-second timer misses at least one occurrence
    _rewind_minute_timer(azurite, fresh.prefix, minutes=3)  # and the minute timer misses some
    before = len(json_lines(fresh.timer_log))

    fresh.host.start()
    wait_until(lambda: [r for r in json_lines(fresh.timer_log)[before:] if r["timer"] == "two_seconds"], 5, "resume")
    after = [r for r in json_lines(fresh.timer_log)[before:] if datetime.fromisoformat(r["at"]) > killed_at]
    minute = [record for record in after if record["timer"] == "minute"]
    assert minute and minute[0]["past_due"] is True, after
    assert [record["past_due"] for record in minute[1:]] == [False] * (len(minute) - 1), "caught up only once"
    assert all(record["past_due"] is False for record in after if record["timer"] == "two_seconds")


@pytest.fixture(scope="class")
def starting(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHost, Path]]:
    """A host whose ``start_chain_on_timer`` starts ``chain`` every two seconds and lists the instance ids."""
    directory = tmp_path_factory.mktemp("starting-host")
    started = directory / "started.txt"
    running = _host(azurite, directory, TIMER_STARTS_ORCHESTRATION=str(started))
    running.host.start()
    yield running, started
    running.host.stop()


def _started_ids(started: Path) -> list[str]:
    return started.read_text().split() if started.exists() else []


def _rpc_status(host: HostProcess, instance_id: str) -> dict:
    """The instance's status from the host's durable webhook (202 while running), bypassing the app's SDK client;
    the webhook takes the durabletask_extension system key, as on Azure."""
    path = f"/runtime/webhooks/durabletask/instances/{instance_id}"
    code, body = host.request("GET", path, key=host.keys().system_key())
    assert code in (200, 202), body
    return body


class TestATimerStartsOrchestrations:
    def test_a_timer_can_start_an_orchestration_that_completes(self, starting: tuple[RunningHost, Path]) -> None:
        running, started = starting
        instance_id = wait_until(lambda: _started_ids(started), 5, "an orchestration start")[0]
        done = wait_until(
            lambda: (status := _rpc_status(running.host, instance_id))["runtimeStatus"] == "Completed" and status,
            10,
            f"{instance_id} completed",
        )
        assert done["output"] == 1

    def test_each_firing_starts_an_orchestration(self, starting: tuple[RunningHost, Path]) -> None:
        _, started = starting
        wait_until(lambda: len(_started_ids(started)) >= 2, 3.5, "a second orchestration start")

    def test_http_functions_still_use_the_durable_client_after_a_timer_did(
        self, starting: tuple[RunningHost, Path]
    ) -> None:
        running, started = starting
        instance_id = wait_until(lambda: _started_ids(started), 5, "an orchestration start")[0]
        code, body = running.host.request("GET", f"/api/status/{instance_id}")
        assert code == 200 and body["runtimeStatus"] == "Completed", body
