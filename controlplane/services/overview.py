"""What operators see per service: the catalog's revision, live replicas, the monitor's condition, scaling, and the
scaling loop's recent evaluations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controlplane.domain.catalog import CatalogEntry
from controlplane.domain.runtime import LiveWorkload
from controlplane.domain.scaling_record import ScalingRecord
from controlplane.errors import NotFound
from controlplane.ports import Catalog, Compute, Deployments, LoopStates
from controlplane.services import monitor, scaling

# Parts of the scaling record the overview leaves out: the policy's working state, and the evaluation history
# (``GET /api/services/{environment}/{service}/history`` serves it).
_INTERNAL = frozenset({"state", "history"})


def overview(
    entries: Iterable[CatalogEntry],
    deployments: Deployments,
    loop_states: LoopStates,
    compute: Compute,
) -> list[dict[str, Any]]:
    """One view per catalog entry (``GET /api/services``: a page of the catalog), in their order; ``lastGate`` is
    the last health-gate probe of the deployment that promoted it. Each environment's inventory is read once."""
    inventories: dict[str, list[LiveWorkload]] = {}
    views = []
    for entry in entries:
        live = inventories.setdefault(entry.environment, compute.inventory(entry.environment))
        serving = [w for w in live if w.service == entry.service and w.managed and w.traffic_percent > 0]
        key = f"{entry.environment}/{entry.service}"
        watch = loop_states.get_loop_state(monitor.LOOP, key)
        scaled = loop_states.get_loop_state(scaling.LOOP, key)
        views.append(
            {
                **entry.to_dict(),
                "live": [workload.to_dict() for workload in serving],
                "unmanaged": sorted(w.revision for w in live if w.service == entry.service and not w.managed),
                "monitor": dict(watch.body) if watch else None,
                "scaling": {k: v for k, v in scaled.body.items() if k not in _INTERNAL} if scaled else None,
                "lastGate": _last_gate(deployments, entry.deployment_id, entry.service),
            }
        )
    return views


def _last_gate(deployments: Deployments, deployment_id: str, service: str) -> dict[str, Any] | None:
    try:
        progress = deployments.get_deployment(deployment_id).services.get(service)
    except NotFound:  # the deployment's record was removed; the catalog still names it
        return None
    return dict(progress.last_health) if progress and progress.last_health else None


def scaling_history(
    catalog: Catalog, deployments: Deployments, loop_states: LoopStates, environment: str, service: str
) -> dict[str, Any]:
    """The scaling loop's recent evaluations of one promoted service, oldest first, with the policy it serves
    now (``GET /api/services/{environment}/{service}/history``); NotFound when the service is not promoted."""
    entry = catalog.get_catalog_entry(environment, service)
    policy = deployments.get_deployment(entry.deployment_id).release.service(service).scaling
    record = loop_states.get_loop_state(scaling.LOOP, f"{environment}/{service}")
    memory = ScalingRecord.from_dict(record.body) if record else ScalingRecord()
    described = None
    if policy is not None:
        rules = [{"metric": rule.metric, "target": rule.target} for rule in policy.rules]
        described = {"minReplicas": policy.min_replicas, "maxReplicas": policy.max_replicas, "rules": rules}
    return {
        "environment": environment,
        "service": service,
        "revision": entry.revision,
        "policy": described,
        "evaluations": [evaluation.to_dict() for evaluation in memory.history],
    }
