"""A drift run's batches: which approved findings it takes, and their remedies started and settled a batch at a
time (one activity each on Azure, not one per finding).

Each finding is acted on by itself, as ``remediation`` does: starting is idempotent per finding (a finding already
Remediating answers its recorded corrective deployment; the deployment's id derives from the finding's occurrence),
so a batch run again after a crash starts nothing twice. A transient failure on one finding (a storage error, an
operator's decision written at the same moment) leaves that finding as it was for the next run instead of
failing the batch, whose other findings may already have their corrective deployments recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime

from controlplane.domain.findings import FindingStatus
from controlplane.domain.listing_pages import FindingPosition
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.domain.workflow.drift_requests import ApprovedBatch
from controlplane.errors import TransientError
from controlplane.ports import Claims, Compute, Deployments, DesiredState, EventBus, EventLog, Findings
from controlplane.services.drift.remediation import settle, start_remediation

log = logging.getLogger(__name__)


def approved_batch(findings: Findings, limit: int, start: FindingPosition | None = None) -> ApprovedBatch:
    """At most ``limit`` approved findings, oldest first, from ``start`` on; the batch's ``next`` is the first
    approved finding after them, so a run moves on even past findings that stay Approved (a busy service)."""
    page = findings.page_findings(FindingStatus.APPROVED, limit, start)
    return ApprovedBatch(tuple(finding.id for finding in page.findings), page.next)


def start_remediations(
    findings: Findings,
    deployments: Deployments,
    claims: Claims,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    desired: DesiredState,
    compute: Compute,
    finding_ids: tuple[str, ...],
    now: datetime,
) -> dict[str, DeploymentStart]:
    """Start each finding's remedy; the corrective deployments to run, by finding id (a finding with nothing to
    run, see ``start_remediation``, or whose start failed transiently, is not in it)."""
    started: dict[str, DeploymentStart] = {}
    for fid in finding_ids:
        try:
            start = start_remediation(findings, deployments, claims, event_log, bus, source, desired, compute, fid, now)
        except TransientError as error:
            log.warning("drift: finding %s not started this run: %s", fid, error)
            continue
        if start is not None:
            started[fid] = start
    return started


def settle_findings(
    findings: Findings,
    deployments: Deployments,
    event_log: EventLog,
    bus: EventBus,
    source: str,
    finding_ids: tuple[str, ...],
    now: datetime,
) -> dict[str, str]:
    """Settle each finding whose corrective deployment ended; each finding's status (one that failed transiently
    stays Remediating, and the next scan settles it)."""
    outcomes: dict[str, str] = {}
    for fid in finding_ids:
        try:
            outcomes[fid] = settle(findings, deployments, event_log, bus, source, fid, now)
        except TransientError as error:
            log.warning("drift: finding %s not settled this run: %s", fid, error)
            outcomes[fid] = FindingStatus.REMEDIATING.value
    return outcomes
