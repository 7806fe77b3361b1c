"""Read-only views of drift for the HTTP API: the dry-run plan; it changes nothing."""

from __future__ import annotations

from typing import Any

from controlplane.domain.findings import FindingStatus
from controlplane.ports import Catalog, Compute, Deployments, DesiredState, Findings, Provisioner, Quarantine
from controlplane.services.drift.decisions import REPAIRED_BY_ITSELF
from controlplane.services.drift.survey import survey


def plan(
    findings: Findings,
    catalog: Catalog,
    deployments: Deployments,
    quarantine: Quarantine,
    desired: DesiredState,
    compute: Compute,
    provisioner: Provisioner | None = None,
) -> dict[str, Any]:
    """What the next run would do, finding by finding (``GET /api/drift/plan``)."""
    view = survey(catalog, deployments, quarantine, desired, compute, provisioner)
    known = {finding.id: finding for finding in findings.list_findings()}
    entries: list[dict[str, Any]] = []
    for observation in view.observations:
        stored = known.get(observation.finding_id)
        status = stored.status if stored and not stored.recurs else observation.initial_status()
        entries.append(
            {
                "findingId": observation.finding_id,
                "environment": observation.item.environment,
                "service": observation.item.service,
                "kind": observation.item.kind,
                "remedy": observation.item.remedy.value,
                "diff": dict(observation.item.diff),
                "status": status.value,
                "new": stored is None or stored.recurs,
                "action": _action(status, observation.item.kind),
            }
        )
    resolving = [f.id for f in known.values() if view.resolves(f, {e["findingId"] for e in entries})]
    return {"desiredRevision": view.revision, "findings": entries, "resolves": resolving}


def _action(status: FindingStatus, kind: str) -> str:
    if kind == "infrastructure" and status is FindingStatus.OPEN:
        return f"repair with pulumi up --refresh on the environment's stack; {REPAIRED_BY_ITSELF}"
    if status is FindingStatus.APPROVED:
        return "remove the unmanaged workload" if kind == "unmanaged" else "start a corrective deployment"
    return {
        FindingStatus.OPEN: "wait for an operator to approve or dismiss",
        FindingStatus.REMEDIATING: "wait for the corrective deployment",
        FindingStatus.DISMISSED: "nothing: dismissed by an operator",
        FindingStatus.REMEDIATION_FAILED: "nothing until an operator approves a retry",
    }.get(status, "nothing")
