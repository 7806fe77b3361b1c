"""The product's own host.json, timer schedules and Service Bus subscription filters, as the local host reads
them (the host's rules themselves are tested in funchost/tests)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controlplane.adapters.azure.servicebus.mapping import SUBSCRIPTION_FILTERS, MessageFields, subscription_filters
from controlplane.cli.demo_loops import LOOP_SETTINGS
from controlplane.config import SCHEDULE_DEFAULTS
from funchost.ncrontab import CronSchedule
from funchost.servicebus.filters import parse_filters
from funchost.servicebus.options import ServiceBusOptions
from funchost.settings import DurableConcurrency, function_timeout, ignore_extended_sessions

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START = datetime(2025, 1, 1, tzinfo=UTC)  # a Wednesday, at midnight
HEALTH = {"type": "HealthCheckCompleted", "environment": "prod", "service": "orders", "attempt": 2, "retry": True}


def test_the_apps_host_json_allows_10_activities_and_10_orchestrator_episodes_at_once() -> None:
    assert DurableConcurrency.from_host_json(PROJECT_ROOT) == DurableConcurrency(activities=10, orchestrators=10)


def test_the_apps_host_json_gives_16_concurrent_calls_auto_complete_and_5_minutes_of_lock_renewal() -> None:
    assert ServiceBusOptions.from_host_json(PROJECT_ROOT) == ServiceBusOptions(16, True, timedelta(minutes=5))


def test_the_apps_host_json_bounds_every_invocation_at_10_minutes() -> None:
    assert function_timeout(PROJECT_ROOT) == timedelta(minutes=10)


def test_the_project_host_json_has_no_extended_sessions(caplog: pytest.LogCaptureFixture) -> None:
    options = json.loads((PROJECT_ROOT / "host.json").read_text())["extensions"]["durableTask"]

    with caplog.at_level(logging.WARNING):
        ignore_extended_sessions(PROJECT_ROOT)

    assert not {"extendedSessionsEnabled", "extendedSessionIdleTimeoutInSeconds"} & options.keys()
    assert caplog.records == []


@pytest.mark.parametrize(
    "expression", [*SCHEDULE_DEFAULTS.values(), *(v for k, v in LOOP_SETTINGS.items() if k.endswith("_SCHEDULE"))]
)
def test_the_projects_own_schedules_parse(expression: str) -> None:
    assert CronSchedule.parse(expression).next_after(START) > START


def test_schedule_defaults_keep_monitoring_where_azure_does() -> None:
    monitored = {name: not CronSchedule.parse(value).disables_monitor for name, value in SCHEDULE_DEFAULTS.items()}
    assert monitored == {
        "CONTROLPLANE_DRIFT_SCHEDULE": True,
        "CONTROLPLANE_SCALING_SCHEDULE": False,
        "CONTROLPLANE_MONITOR_SCHEDULE": False,
        "CONTROLPLANE_RECONCILER_SCHEDULE": True,
        "CONTROLPLANE_RELAY_SCHEDULE": False,
        "CONTROLPLANE_RETENTION_SCHEDULE": True,
    }


def test_the_apps_subscription_filters_are_evaluated_by_the_local_bus() -> None:
    parsed = parse_filters(subscription_filters("events"))
    assert set(parsed) == {f"events/Subscriptions/{name}" for name in SUBSCRIPTION_FILTERS}
    health = MessageFields("m-1", "trace", "Subject-1", "application/cloudevents+json", HEALTH)
    assert parsed["events/Subscriptions/scaling"].accepts(health)
