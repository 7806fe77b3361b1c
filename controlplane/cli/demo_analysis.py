"""``make demo``, the analysis part: a canary whose health checks say Healthy while 20 % of its requests fail.

``v5-failing-canary`` deploys orders 5.0.0 with ``SAMPLE_ERROR_PERCENT=20`` while a load generator sends
requests to the orders router. The health gate passes at the first canary step; the metric analysis reads the
router's counters of the new revision only, measures a success rate near 0.80 against ``min 0.95`` and rolls
the canary back. The demo then prints ``python -m controlplane explain`` for the deployment, as an operator
would run it, and checks that the rollback was the analysis's decision.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controlplane.adapters.local.router import routed_url
from controlplane.cli.demo_loops import Load
from controlplane.config import APP_ROOT
from funchost.host_process import HostProcess

RELEASE = "v5-failing-canary"


def analysis_demo(host: HostProcess, local: Path, storage: str, deploy: Callable[[str, str], Any]) -> bool:
    """Deploy the Healthy-but-failing canary under load; True when analysis rolled it back and explains why."""
    url = routed_url(local / "router.json", "dev", "orders")
    print(f"4. Metric analysis: {RELEASE} answers Healthy but fails 20 % of its requests; load on {url}")
    with Load(url, threads=2):
        outcome = deploy(RELEASE, "RolledBack")
    detail = host.request("GET", f"/api/deployments/{outcome.deployment_id}")[1]
    reason = next((t["reason"] for t in reversed(detail.get("transitions") or []) if t["to"] == "RollingBack"), "")
    print(f"   $ python -m controlplane explain {outcome.deployment_id}")
    explained = _explain(storage, outcome.deployment_id)
    print("\n".join(f"   {line}" for line in explained.splitlines()))
    by_analysis = "analysis" in reason and "request-success-rate" in reason
    print(f"   {'ok' if by_analysis else 'EXPECTED a rollback by the analysis'}: rolled back because {reason}\n")
    return outcome.state == "RolledBack" and by_analysis and "request-success-rate" in explained


def _explain(storage: str, deployment_id: str) -> str:
    """What ``python -m controlplane explain`` prints for the deployment, run as an operator would run it (on
    the demo's Azurite, where the host keeps its state)."""
    command = [sys.executable, "-m", "controlplane", "explain", deployment_id]
    environment = {**os.environ, "CONTROLPLANE_STORAGE": storage}
    done = subprocess.run(command, cwd=APP_ROOT, capture_output=True, text=True, env=environment, timeout=60)
    return done.stdout if done.returncode == 0 else f"explain failed ({done.returncode}): {done.stderr.strip()}"
