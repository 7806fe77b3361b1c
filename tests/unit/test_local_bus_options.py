"""host.json's ``extensions.serviceBus`` as the Service Bus extension reads it (ServiceBusOptions.cs in
Azure/azure-sdk-for-net, sdk/servicebus/Microsoft.Azure.WebJobs.Extensions.ServiceBus/src/Config)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from funchost.host_json import InvalidHostJson
from funchost.servicebus.options import ServiceBusOptions
from tests.conftest import PROJECT_ROOT


def test_the_apps_host_json_gives_16_concurrent_calls_auto_complete_and_5_minutes_of_lock_renewal() -> None:
    assert ServiceBusOptions.from_host_json(PROJECT_ROOT) == ServiceBusOptions(16, True, timedelta(minutes=5))


def test_without_settings_the_extension_defaults_apply(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    options = ServiceBusOptions.from_host_json(tmp_path)
    assert options == ServiceBusOptions(16 * (os.cpu_count() or 1), True, timedelta(minutes=5))


@pytest.mark.parametrize(
    ("value", "renewal"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("00:00:00", timedelta(0)),  # renewal off (ReceiverManager.AutoRenewLock: only above zero)
        ("00:00:30.5", timedelta(seconds=30.5)),
        ("1.00:00:00", timedelta(days=1)),
        (5, timedelta(days=5)),  # the configuration binder reads a JSON number as its text: TimeSpan.Parse("5")
    ],
)
def test_max_auto_lock_renewal_duration_reads_as_a_dotnet_timespan(value: object, renewal: timedelta) -> None:
    assert ServiceBusOptions.from_section({"maxAutoLockRenewalDuration": value}).max_auto_lock_renewal == renewal


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-00:00:01", "must not be negative (got '-00:00:01')"),  # Argument.AssertNotNegative
        ("5 minutes", "must be a TimeSpan such as \"00:05:00\" (got '5 minutes')"),
        ("00:60:00", "must be a TimeSpan such as \"00:05:00\" (got '00:60:00')"),
        (True, 'must be a TimeSpan such as "00:05:00" (got True)'),
        (1.5, 'must be a TimeSpan such as "00:05:00" (got 1.5)'),
    ],
)
def test_a_max_auto_lock_renewal_duration_that_is_no_timespan_or_negative_is_refused(
    value: object, reason: str
) -> None:
    with pytest.raises(InvalidHostJson) as raised:
        ServiceBusOptions.from_section({"maxAutoLockRenewalDuration": value})
    [error] = raised.value.errors
    assert (error.path, error.reason) == ("extensions.serviceBus.maxAutoLockRenewalDuration", reason)


@pytest.mark.parametrize("calls", [0, -1, "16", 1.5, True])
def test_max_concurrent_calls_below_1_or_not_an_integer_is_refused(calls: object) -> None:
    with pytest.raises(InvalidHostJson, match=r"extensions\.serviceBus\.maxConcurrentCalls: must be an integer"):
        ServiceBusOptions.from_section({"maxConcurrentCalls": calls})


def test_every_bad_setting_is_named(tmp_path: Path) -> None:
    section = {"maxConcurrentCalls": 0, "autoCompleteMessages": "yes", "maxAutoLockRenewalDuration": "-1"}
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"serviceBus": section}}))
    with pytest.raises(InvalidHostJson) as raised:
        ServiceBusOptions.from_host_json(tmp_path)
    assert [error.path for error in raised.value.errors] == [
        "extensions.serviceBus.maxConcurrentCalls",
        "extensions.serviceBus.autoCompleteMessages",
        "extensions.serviceBus.maxAutoLockRenewalDuration",
    ]
    assert "invalid host.json (3 error(s))" in str(raised.value)
