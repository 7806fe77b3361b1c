"""The operator commands (``python -m controlplane instances|status|events|deadletters|key``) as subprocesses.

A host produces an orchestration, a trace of events and a dead letter on the session's Azurite and is stopped;
the commands then read the same storage (they work whether or not the host runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from funchost.azurite import Azurite
from funchost.servicebus.message import Message
from funchost.servicebus.records import DEADLETTERED, DELIVERED
from funchost.tests.apps.bad_apps import BAD_APPS
from funchost.tests.e2e.bus_client import SUBSCRIPTION, BusClient, new_traceid
from funchost.tests.e2e.host_process import DURABLE_APP
from funchost.tests.e2e.observe import wait_until
from tests.e2e.envelopes import envelope, publish
from tests.e2e.host_process import KEY, ROOT, HostProcess

TRACE_TYPES = ["RuntimeDeploymentRequested", "RuntimeDeploymentStateChanged", "RuntimeDeploymentCompleted"]


@dataclass(frozen=True)
class Produced:
    env: dict[str, str]
    instance_id: str
    traceid: str
    event_ids: list[str]
    malformed: Message
    local_dir: Path
    status_url: str
    failing: str


@pytest.fixture(scope="module")
def produced(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Produced]:
    prefix = f"cli{uuid.uuid4().hex[:12]}"
    local_dir = str(tmp_path_factory.mktemp("cli-local"))
    host = HostProcess(
        azurite.connection_string,
        DURABLE_APP,
        tmp_path_factory.mktemp("cli-host"),
        {"CONTROLPLANE_TABLE_PREFIX": prefix, "CONTROLPLANE_LOCAL_DIR": local_dir},
    ).start()
    try:
        started = host.start_orchestration("chain", 2)
        instance_id = started["id"]
        assert host.wait_for(instance_id, timeout=15)["runtimeStatus"] == "Completed"
        bus = BusClient(azurite.connection_string, prefix)
        traceid = new_traceid()
        events = []
        for number, kind in enumerate(TRACE_TYPES):  # each step caused by the one before
            events.append(envelope(kind, traceid, {"step": number}, causationid=events[-1].id if events else None))
        publish(bus, *events)
        malformed = Message(str(uuid.uuid4()), new_traceid(), "Note", "text/plain", {}, b"hello")
        bus.publish(malformed)
        failing = envelope("RuntimeDriftDetected", new_traceid(), {"fail": True})  # on_bus_event raises on it
        publish(bus, failing)
        wait_until(lambda: bus.delivery(events[-1].id).state == DELIVERED, 10, "the trace delivered")
        wait_until(lambda: bus.delivery(failing.id).state == DEADLETTERED, 20, "the dead letter")
    finally:
        host.stop()
    env = {
        **os.environ,
        "CONTROLPLANE_STORAGE": azurite.connection_string,
        "FUNCTIONS_HOST_KEY": KEY,
        "CONTROLPLANE_TABLE_PREFIX": prefix,
        "CONTROLPLANE_LOCAL_DIR": local_dir,
    }
    status_url = started["statusQueryGetUri"]
    yield Produced(
        env, instance_id, traceid, [event.id for event in events], malformed, Path(local_dir), status_url, failing.id
    )


def _cli(produced: Produced, *arguments: str) -> subprocess.CompletedProcess[str]:
    with_app = ("instances", "status", "events", "deadletters", "key")
    app = ["--app", DURABLE_APP] if arguments[0] in with_app else []
    return subprocess.run(
        [sys.executable, "-m", "controlplane", *arguments, *app],
        cwd=ROOT,
        env=produced.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ok(produced: Produced, *arguments: str) -> list[str]:
    result = _cli(produced, *arguments)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_instances_lists_the_instance_with_its_name_and_status(produced: Produced) -> None:
    lines = _ok(produced, "instances")
    assert lines[0].split()[:3] == ["instance", "name", "status"]
    (row,) = [line for line in lines if line.startswith(produced.instance_id)]
    assert row.split()[1:3] == ["chain", "Completed"]
    assert lines[-1].endswith("instance(s)")


def test_status_shows_name_status_input_output_and_history(produced: Produced) -> None:
    fields = {line[:14].strip(): line[14:].strip() for line in _ok(produced, "status", produced.instance_id)}
    assert fields["instance"] == produced.instance_id
    assert fields["name"] == "chain" and fields["status"] == "Completed"
    assert fields["input"] == "2" and fields["output"] == "2"
    assert fields["history"].startswith("generation ") and " events" in fields["history"]


def test_status_of_an_unknown_instance_exits_1_and_names_it(produced: Produced) -> None:
    result = _cli(produced, "status", "no-such-instance")
    assert result.returncode == 1
    assert "no instance 'no-such-instance'" in result.stdout


def test_events_lists_a_trace_in_publish_order_with_causation(produced: Produced) -> None:
    lines = _ok(produced, "events", "--trace", produced.traceid)
    heads = [line.split() for line in lines if not line.startswith(" ")][:-1]
    assert [head[1] for head in heads] == TRACE_TYPES
    assert [head[2] for head in heads] == produced.event_ids
    details = [line.split() for line in lines if line.startswith("    ")]
    assert [detail[-1] for detail in details] == ["None", *produced.event_ids[:-1]]
    assert lines[-1] == f"3 event(s) with traceid {produced.traceid}"


def test_events_of_an_unknown_trace_lists_none(produced: Produced) -> None:
    traceid = new_traceid()
    assert _ok(produced, "events", "--trace", traceid) == [f"0 event(s) with traceid {traceid}"]


def test_events_of_a_trace_with_a_malformed_message_still_lists_it(produced: Produced) -> None:
    lines = _ok(produced, "events", "--trace", produced.malformed.correlation_id)
    assert any(produced.malformed.message_id in line for line in lines)


def test_deadletters_shows_subscription_message_and_reason(produced: Produced) -> None:
    lines = _ok(produced, "deadletters")
    (index,) = [number for number, line in enumerate(lines) if produced.failing in line]
    assert lines[index].split()[:3] == [SUBSCRIPTION, produced.failing, "RuntimeDriftDetected"]
    assert lines[index].split()[-1] == "x10"
    reason = "reason: MaxDeliveryCountExceeded (Message couldn't be consumed after maximum delivery attempts.)"
    assert lines[index + 1].strip() == reason
    assert lines[index + 2].strip() == "last error: RuntimeError: failing on purpose (delivery 10)"
    assert lines[-1] == "1 dead letter(s)"


def test_key_prints_the_default_host_key_with_or_without_kind_host(produced: Produced) -> None:
    assert _ok(produced, "key") == [KEY]  # FUNCTIONS_HOST_KEY replaces the stored default host key
    assert _ok(produced, "key", "--kind", "host") == [KEY]


def test_key_prints_the_master_key_the_host_stored(produced: Produced) -> None:
    stored = json.loads((produced.local_dir / "secrets" / "host.json").read_text())
    assert _ok(produced, "key", "--kind", "master") == [stored["masterKey"]["value"]]


def test_key_prints_the_system_key_that_the_management_urls_carry(produced: Produced) -> None:
    assert _ok(produced, "key", "--kind", "system") == parse_qs(urlparse(produced.status_url).query)["code"]


def test_key_prints_a_functions_own_key_as_stored_in_its_file(produced: Produced) -> None:
    (key,) = _ok(produced, "key", "--kind", "function", "--function", "start")
    stored = json.loads((produced.local_dir / "secrets" / "start.json").read_text())
    assert stored["keys"] == [{"name": "default", "value": key, "encrypted": False}]


def test_key_of_an_unknown_function_exits_1_naming_the_functions(produced: Produced) -> None:
    result = _cli(produced, "key", "--kind", "function", "--function", "nosuch")
    assert result.returncode == 1
    assert "key --function: no HTTP function 'nosuch' in funchost.tests.apps.durable_app:app (have: " in result.stderr
    assert "start" in result.stderr


def test_key_with_kind_function_needs_a_function_name(produced: Produced) -> None:
    result = _cli(produced, "key", "--kind", "function")
    assert result.returncode == 2
    assert "--function NAME goes with --kind function" in result.stderr


@pytest.mark.parametrize("command", [["deadletters"], ["key", "--kind", "function", "--function", "x"]])
def test_operator_commands_on_a_refused_app_exit_1_with_the_refusal(command: list[str]) -> None:
    app = BAD_APPS[0]
    run = subprocess.run(
        [sys.executable, "-m", "controlplane", *command, "--app", f"{app.import_name}:app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (run.returncode, run.stdout) == (1, "")
    assert f"{app.import_name}:app: Azure would not load this function app:\n{app.message}" in run.stderr
    assert "Traceback" not in run.stderr
