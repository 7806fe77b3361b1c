"""Activities of the drift loop: dict in, one handler of controlplane.services.drift, dict out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities.tracing import traced_activity
from controlplane.bootstrap.root import services
from controlplane.services.drift.remediation import settle, start_remediation
from controlplane.services.drift.scan import scan

bp = df.Blueprint()


def _source() -> str:
    return f"{services().settings.event_source}/drift"


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_scan(request: dict) -> list[str]:
    """Compare live with desired state, record findings; the ids approved for remediation."""
    wired = services()
    at = datetime.fromisoformat(request["at"])
    return scan(wired.store, wired.events, _source(), wired.desired_state, wired.compute, at, wired.provisioner)


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_start_remediation(request: dict) -> dict[str, Any] | None:
    """Start one approved finding's remedy; the corrective deployment's orchestration input, if any."""
    wired = services()
    at = datetime.fromisoformat(request["at"])
    return start_remediation(
        wired.store, wired.events, _source(), wired.desired_state, wired.compute, request["findingId"], at
    )


@bp.activity_trigger(input_name="request")
@traced_activity
def drift_settle(request: dict) -> str:
    """Close a finding whose corrective deployment ended; its status."""
    wired = services()
    at = datetime.fromisoformat(request["at"])
    return settle(wired.store, wired.events, _source(), request["findingId"], at)
