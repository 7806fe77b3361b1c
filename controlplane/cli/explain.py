"""``python -m controlplane explain DEPLOYMENT_ID``: why a deployment is where it is, gate by gate, from the local
host's state (the deployment record and its trace's events in Table storage, as ``replay`` reads them)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from controlplane.cli.explain_text import render
from controlplane.errors import NotFound
from controlplane.ports import Deployments, EventLog
from controlplane.services.deployment_detail import explanation_of


def print_explanation(
    deployments: Deployments, event_log: EventLog, deployment_id: str, as_json: bool, out: TextIO | None = None
) -> int:
    """Print the explanation (``--json``: the API's ``explanation``); exit 1 naming an unknown deployment."""
    try:
        deployment = deployments.get_deployment(deployment_id)
    except NotFound:
        print(f"explain: no deployment {deployment_id!r} in the local state", file=sys.stderr)
        return 1
    explanation = explanation_of(event_log, deployment)
    print(json.dumps(explanation.to_dict(), indent=2) if as_json else render(explanation), file=out or sys.stdout)
    return 0
