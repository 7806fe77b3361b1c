"""host.json's ``extensions.serviceBus`` as the Service Bus extension reads it (ServiceBusOptions.cs in
Azure/azure-sdk-for-net, sdk/servicebus/Microsoft.Azure.WebJobs.Extensions.ServiceBus/src/Config)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from controlplane.local.azurite import PROJECT_ROOT
from controlplane.local.bus_options import InvalidHostJson, ServiceBusOptions


def test_the_apps_host_json_gives_16_concurrent_calls_and_auto_complete() -> None:
    assert ServiceBusOptions.from_host_json(PROJECT_ROOT) == ServiceBusOptions(16, auto_complete_messages=True)


def test_without_settings_the_extension_defaults_apply(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    options = ServiceBusOptions.from_host_json(tmp_path)
    assert options == ServiceBusOptions(16 * (os.cpu_count() or 1), auto_complete_messages=True)


@pytest.mark.parametrize("calls", [0, -1, "16", 1.5, True])
def test_max_concurrent_calls_below_1_or_not_an_integer_is_refused(calls: object) -> None:
    with pytest.raises(InvalidHostJson, match=r"extensions\.serviceBus\.maxConcurrentCalls: must be an integer"):
        ServiceBusOptions.from_section({"maxConcurrentCalls": calls})


def test_every_bad_setting_is_named(tmp_path: Path) -> None:
    section = {"maxConcurrentCalls": 0, "autoCompleteMessages": "yes"}
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"serviceBus": section}}))
    with pytest.raises(InvalidHostJson) as raised:
        ServiceBusOptions.from_host_json(tmp_path)
    assert [error.path for error in raised.value.errors] == [
        "extensions.serviceBus.maxConcurrentCalls",
        "extensions.serviceBus.autoCompleteMessages",
    ]
    assert "invalid host.json (2 error(s))" in str(raised.value)
