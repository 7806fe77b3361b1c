"""Acknowledged means durable: SIGKILL the product host's whole process group right after it acknowledged a
write, restart it, and look for the write. Used by tests/e2e/test_group_kill.py and bench/reliability.py.

Each trial runs a host that starts Azurite itself (its own data folder and ports, as ``python -m controlplane
up`` does on a laptop), so the kill is the real thing: a host whose Azurite died with it would come back
without the writes Azurite had not saved yet (LokiJS saves every 5 s).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from funchost.azurite import connection_string, free_port
from funchost.azurite_record import stop_recorded
from funchost.tests.e2e.observe import wait_until
from tests.builders import release_document
from tests.e2e.host_process import HostProcess, product_settings

TERMINAL_STATES = {"Completed", "RolledBack", "Failed"}
TERMINAL_EVENTS = {"RuntimeDeploymentCompleted", "RuntimeDeploymentRolledBack", "RuntimeDeploymentFailed"}
SETTLED_FINDINGS = {"Remediated", "RemediationFailed"}
GATE = {"path": "/health", "intervalSeconds": 1, "successThreshold": 2, "failureThreshold": 2}
TIMEOUT, POLL = 120, 0.2


@dataclass(frozen=True)
class GroupKillOutcome:
    """What a restarted host showed of a write it acknowledged (202) just before its process group died.

    ``found``: the record answered 200 after the restart; ``decision_kept``: the acknowledged change is in it
    (a deployment is there at all; a finding is no longer Open); ``final``: the state it went on to reach;
    ``terminal_events``: the deployment's terminal events (a drift finding's corrective deployment's)."""

    record: str
    found: bool
    decision_kept: bool
    final: str
    terminal_events: int


def release(environment: str) -> dict[str, Any]:
    document = release_document(environment, ("orders",), "1.0.0")
    document["spec"]["healthGate"] = dict(GATE)
    document["spec"]["services"][0]["replicas"] = 1
    return document


@contextmanager
def own_azurite_host(workdir: Path, **settings: str) -> Iterator[HostProcess]:
    """A product host that starts its own Azurite on free ports, data under ``workdir/azurite``; whatever
    runs at the end (the host, the Azurite a killed host left) is stopped."""
    storage = connection_string(free_port(), free_port())
    host = HostProcess(storage, "function_app:app", workdir, product_settings(workdir, **settings))
    try:
        yield host
    finally:
        host.stop()
        stop_recorded(workdir / "azurite")


def deployment_survives_group_kill(workdir: Path) -> GroupKillOutcome:
    """POST a deployment, SIGKILL the host's group on its 202, restart: the deployment, then its end."""
    with own_azurite_host(workdir) as host:
        host.start()
        code, accepted = host.request("POST", "/api/deployments", release("durable"))
        assert code == 202, accepted
        host.kill_group()
        host.start()
        path = f"/api/deployments/{accepted['deploymentId']}"
        code = host.request("GET", path)[0]
        if code != 200:
            return GroupKillOutcome(accepted["deploymentId"], False, False, "lost", 0)
        ended = wait_until(lambda: _in(host.request("GET", path)[1], TERMINAL_STATES), TIMEOUT, path, POLL)
        return GroupKillOutcome(
            accepted["deploymentId"], True, True, ended["state"], _terminal_events(host, accepted["traceId"])
        )


def drift_approval_survives_group_kill(workdir: Path) -> GroupKillOutcome:
    """Approve a drift finding (a desired service that is missing), SIGKILL the host's group on the 202,
    restart: the finding keeps the operator's approval, then the corrective deployment settles it."""
    desired = workdir / "desired"
    desired.mkdir()
    (desired / "orders.yaml").write_text(yaml.safe_dump(release("durabledrift")))
    with own_azurite_host(
        workdir, CONTROLPLANE_DESIRED_STATE=str(desired), CONTROLPLANE_DRIFT_SCHEDULE="*/2 * * * * *"
    ) as host:
        host.start()
        found = wait_until(lambda: _findings(host, "Open"), TIMEOUT, "the drift timer to find orders missing", POLL)
        path = f"/api/drift/findings/{found[0]['id']}"
        code, approved = host.request("POST", f"{path}/approve?reason=restore%20it")
        assert code == 202, approved
        host.kill_group()
        host.start()
        code, body = host.request("GET", path)
        if code != 200:
            return GroupKillOutcome(found[0]["id"], False, False, "lost", 0)
        kept = body["status"] != "Open" and body["decisionReason"] == "restore it" and body["decidedBy"]
        if not kept:
            return GroupKillOutcome(found[0]["id"], True, False, body["status"], 0)
        settled = wait_until(lambda: _in(host.request("GET", path)[1], SETTLED_FINDINGS, "status"), TIMEOUT, path)
        events = _terminal_events(host, settled["traceId"])
        return GroupKillOutcome(found[0]["id"], True, True, settled["status"], events)


def _in(body: dict[str, Any], states: set[str], key: str = "state") -> dict[str, Any] | None:
    return body if body.get(key) in states else None


def _findings(host: HostProcess, status: str) -> list[dict[str, Any]]:
    return list(host.request("GET", f"/api/drift/findings?status={status}")[1]["findings"])


def _terminal_events(host: HostProcess, traceid: str) -> int:
    """The terminal deployment events of the trace, once its journal caught up (events follow the state)."""

    def events() -> list[dict[str, Any]] | None:
        found = host.request("GET", f"/api/events?traceId={traceid}")[1]["events"]
        return found if any(event["type"] in TERMINAL_EVENTS for event in found) else None

    return sum(event["type"] in TERMINAL_EVENTS for event in wait_until(events, TIMEOUT, f"events of {traceid}", POLL))
