"""What operators see per service: the catalog's revision, live replicas, the monitor's condition, scaling."""

from __future__ import annotations

from typing import Any

from controlplane.domain.runtime import LiveWorkload
from controlplane.ports import Catalog, Compute, LoopStates
from controlplane.services import monitor, scaling


def overview(
    catalog: Catalog, loop_states: LoopStates, compute: Compute, environment: str | None = None
) -> list[dict[str, Any]]:
    """One entry per promoted service (``GET /api/services``), ordered by environment then service."""
    inventories: dict[str, list[LiveWorkload]] = {}
    views = []
    for entry in catalog.list_catalog(environment):
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
                "scaling": {k: v for k, v in scaled.body.items() if k != "state"} if scaled else None,
            }
        )
    return views

