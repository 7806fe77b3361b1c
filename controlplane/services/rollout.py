"""Rolling a release's services onto Compute: the new revision, the stable one, probes, promotion, rollback.

Each handler does one thing and is safe to run twice (activities are retried and re-run after a crash):
scaling to a count, setting weights, probing, and writing the catalog are all idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from controlplane.domain import deployment_events
from controlplane.domain.catalog import CatalogEntry, LoopView
from controlplane.domain.deployment import Deployment, ServicePhase, ServiceProgress
from controlplane.domain.loops import QuarantinedImage
from controlplane.domain.rollout import (
    AwaitApproval,
    Pause,
    RunHealthGate,
    ScaleDownStableAfter,
    ScaleRevision,
    SetPreview,
    SetTraffic,
    Step,
    rollback_plan,
)
from controlplane.domain.rollout.target import Target, revision_name
from controlplane.domain.runtime import RevisionSpec
from controlplane.domain.workflow.deployment_requests import Promotion
from controlplane.errors import NotFound, PermanentError, first_line
from controlplane.ports import Catalog, Compute, Deployments, EventBus, EventLog, HealthProbe, Quarantine
from controlplane.services.deployments import emit
from controlplane.services.rollout_wait import ROLLING_OUT


def targets(deployments: Deployments, catalog: Catalog, deployment_id: str) -> list[Target]:
    """What each service rolls from and to; the stable revision is the catalog's (last Completed)."""
    deployment = deployments.get_deployment(deployment_id)
    found = []
    for service in deployment.release.spec.services:
        stable: tuple[str | None, int, str | None]
        try:
            entry = catalog.get_catalog_entry(deployment.environment, service.name)
            stable = (entry.revision, entry.replicas, entry.deployment_id)
        except NotFound:
            stable = (None, 0, None)
        found.append(Target(service.name, revision_name(service.name, deployment_id), service.replicas, *stable))
    return found


def revision_spec(deployment: Deployment, service: str, revision: str, replicas: int) -> RevisionSpec:
    spec = deployment.release.service(service)
    return RevisionSpec(
        environment=deployment.environment,
        service=service,
        revision=revision,
        image=spec.image,
        replicas=replicas,
        port=spec.port,
        health_path=deployment.release.health_endpoint(service).path,
        configuration=dict(spec.configuration),
        secret_refs={secret.name: secret.key_vault_secret_uri for secret in spec.secrets},
        scaling=spec.scaling,
    )


def apply_step(
    deployments: Deployments, compute: Compute, deployment_id: str, target: Target, step: Step, at: datetime
) -> None:
    """Carry out one compute step of a rollout plan (gates, pauses and approvals are the orchestrator's);
    ``at`` is when the orchestrator took it (the time of a traffic change in the service's progress)."""
    _take(deployments, compute, deployments.get_deployment(deployment_id), target, step, at)


def _take(
    deployments: Deployments, compute: Compute, deployment: Deployment, target: Target, step: Step, at: datetime
) -> None:
    """``apply_step`` on the deployment as read (its environment and release: what a step reads of it)."""
    environment, service = deployment.environment, target.service
    if isinstance(step, ScaleRevision) and step.revision == "new":
        compute.deploy_revision(revision_spec(deployment, service, target.new_revision, step.replicas))
    elif isinstance(step, ScaleRevision):
        if target.stable_revision is not None:
            compute.scale(environment, service, target.stable_revision, step.replicas)
    elif isinstance(step, SetTraffic):
        compute.set_traffic(environment, service, _weights(target, step.new_percent))
    elif isinstance(step, SetPreview):
        compute.set_preview(environment, service, target.new_revision if step.enabled else None)
    elif isinstance(step, ScaleDownStableAfter):
        if target.stable_revision is not None:
            compute.scale(environment, service, target.stable_revision, 0)
    elif not isinstance(step, RunHealthGate | Pause | AwaitApproval):
        raise TypeError(f"unknown rollout step {step!r}")
    traffic = (step.new_percent, at) if isinstance(step, SetTraffic) else None
    _progress(deployments, deployment.id, service, ServicePhase.ROLLING_OUT, target.new_revision, str(step), traffic)


def apply_steps(
    deployments: Deployments, compute: Compute, deployment_id: str, target: Target, steps: Sequence[Step], at: datetime
) -> bool:
    """Carry out a batch of compute steps in order (one activity for a real step of the rollout); False, with
    nothing done, once the deployment is no longer rolling out: the release is rolling back (another service
    failed, an operator aborted) or has ended, and the service must not move on."""
    deployment = deployments.get_deployment(deployment_id)
    if deployment.state not in ROLLING_OUT:
        return False
    for step in steps:
        _take(deployments, compute, deployment, target, step, at)
    return True


def _weights(target: Target, new_percent: int) -> dict[str, int]:
    if target.stable_revision is None:
        return {target.new_revision: 100}
    return {target.new_revision: new_percent, target.stable_revision: 100 - new_percent}


def probe(
    deployments: Deployments,
    event_log: EventLog,
    bus: EventBus,
    health: HealthProbe,
    source: str,
    deployment_id: str,
    target: Target,
    event_id: str,
    at: datetime,
    stable: bool = False,
) -> dict[str, Any]:
    """Probe the new revision (or, after a rollback, the stable one) once; emit HealthCheckCompleted."""
    deployment = deployments.get_deployment(deployment_id)
    path = deployment.release.health_endpoint(target.service).path
    revision = target.stable_revision if stable else target.new_revision
    if revision is None:  # the orchestrator probes the stable revision only after rolling back onto one
        raise PermanentError(f"{target.service}: a first release has no stable revision to probe")
    report = health.probe(deployment.environment, target.service, revision, path)
    checked = deployment_events.health_check_completed(deployment.environment, target.service, revision, report)
    emit(deployments, event_log, bus, source, deployment_id, checked, at, event_id)
    result = {"revision": revision, "status": report.status.value, "summary": report.summary(), "at": at.isoformat()}
    deployments.update_service(deployment_id, target.service, lambda progress: replace(progress, last_health=result))
    return report.to_dict()


def bind_configuration(deployments: Deployments, deployment_id: str) -> dict[str, dict[str, Any]]:
    """Bind each service's RuntimeConfiguration and SecretBindings to its new revision.

    Secrets stay Key Vault references: the runtime resolves them (Container Apps secret references, the
    AKS CSI driver; local processes get ``<NAME>_SECRET_URI``). No value is read, stored or emitted.
    """
    deployment = deployments.get_deployment(deployment_id)
    bound = {}
    for service in deployment.release.spec.services:
        secrets = sorted(secret.name for secret in service.secrets)
        bound[service.name] = {
            "configHash": service.config_hash(),
            "keys": sorted(service.configuration),
            "secrets": secrets,
        }
        message = f"configuration {service.config_hash()[:12]} bound" + (
            f"; secret references {', '.join(secrets)}" if secrets else ""
        )
        _progress(deployments, deployment_id, service.name, ServicePhase.PENDING, None, message)
    return bound


def record_promotion(
    deployments: Deployments, catalog: Catalog, quarantine: Quarantine, deployment_id: str, target: Target, at: datetime
) -> None:
    """The new revision serves everything: write it to the service catalog and the deployment."""
    deployment = deployments.get_deployment(deployment_id)
    spec = deployment.release.service(target.service)
    catalog.put_catalog_entry(
        CatalogEntry(
            deployment.environment,
            target.service,
            deployment_id,
            target.new_revision,
            spec.image,
            target.desired,
            spec.config_hash(),
            at,
            LoopView.of(deployment.release, target.service),
        )
    )
    quarantine.lift_quarantine(deployment.environment, target.service, spec.image)  # deployed on purpose: trusted again
    promoted = ServicePhase.PROMOTED
    _progress(deployments, deployment_id, target.service, promoted, target.new_revision, "promoted", (100, at))


def promote_all(
    deployments: Deployments,
    catalog: Catalog,
    quarantine: Quarantine,
    compute: Compute,
    deployment_id: str,
    promotions: Sequence[Promotion],
    at: datetime,
) -> dict[str, Any]:
    """Promote each service in order (its steps after the last gate, then its catalog entry): ``{"promoted":
    [services]}``, with ``"error"`` at the first that failed (the ones before it stay promoted)."""
    promoted: list[str] = []
    deployment = deployments.get_deployment(deployment_id)
    for promotion in promotions:
        target = promotion.target
        try:
            for step in promotion.steps:
                _take(deployments, compute, deployment, target, step, at)
            record_promotion(deployments, catalog, quarantine, deployment_id, target, at)
        except Exception as error:  # the orchestrator decides: call again, or roll back what is not promoted
            return {"promoted": promoted, "error": f"promotion of {target.service} failed: {first_line(error)}"}
        promoted.append(target.service)
    return {"promoted": promoted}


def roll_back(
    deployments: Deployments,
    catalog: Catalog,
    quarantine: Quarantine,
    compute: Compute,
    deployment_id: str,
    target: Target,
    reason: str,
    at: datetime,
) -> None:
    """Put all traffic back on the stable revision (restored to its replicas), the new one to zero, and
    quarantine the new image: the drift loop must not deploy it again by itself.

    A service that never started (a later wave of a release that failed earlier: no step of it was recorded)
    keeps its stable revision as it runs, replicas included; only a new revision a crashed first step may have
    left is scaled to zero. Its image is quarantined all the same, since the release it belongs to was rolled
    back whole, and its progress says it was rolled back before it started."""
    deployment = deployments.get_deployment(deployment_id)
    environment, service = deployment.environment, target.service
    image = deployment.release.service(service).image
    if image != _stable_image(catalog, environment, service, target):
        quarantine.quarantine(QuarantinedImage(environment, service, image, reason, at, deployment_id))
    if deployment.services[service].revision is None:  # no step recorded: bind_configuration's Pending progress
        _scale_if_started(compute, environment, service, target.new_revision)
        message = f"rolled back before it started, nothing to undo: {reason}"
        _progress(deployments, deployment_id, service, ServicePhase.ROLLED_BACK, None, message)
        return
    if target.stable_revision is None:
        _scale_if_started(compute, environment, service, target.new_revision)
    else:
        for step in rollback_plan(target.stable_replicas):
            if isinstance(step, ScaleRevision) and step.revision == "stable":
                compute.scale(environment, service, target.stable_revision, step.replicas)
            elif isinstance(step, ScaleRevision):
                _scale_if_started(compute, environment, service, target.new_revision)
            elif isinstance(step, SetTraffic):  # all of it to the stable revision; the new one may never have started
                compute.set_traffic(environment, service, {target.stable_revision: 100})
            elif isinstance(step, SetPreview):
                compute.set_preview(environment, service, None)
    _progress(deployments, deployment_id, service, ServicePhase.ROLLED_BACK, target.new_revision, reason, (0, at))


def _stable_image(catalog: Catalog, environment: str, service: str, target: Target) -> str | None:
    """The image the stable revision runs (a rollback of a configuration change keeps it trusted)."""
    if target.stable_revision is None:
        return None
    try:
        return catalog.get_catalog_entry(environment, service).image
    except NotFound:
        return None


def _scale_if_started(compute: Compute, environment: str, service: str, revision: str) -> None:
    """Scale the new revision to zero; a revision that never started has nothing to stop."""
    try:
        compute.scale(environment, service, revision, 0)
    except NotFound:
        return


def _progress(
    deployments: Deployments,
    deployment_id: str,
    service: str,
    phase: ServicePhase,
    revision: str | None,
    message: str,
    traffic: tuple[int, datetime] | None = None,
) -> None:
    """Update one service's progress, keeping what is not changed (its traffic, its last health result);
    ``traffic`` is the new revision's share (None: unchanged) and when it took it. Writes that service's progress
    alone: the services of a wave, rolling out in parallel, never race for one record."""

    def change(current: ServiceProgress) -> ServiceProgress:
        updated = replace(current, phase=phase, revision=revision, message=message)
        return updated.with_traffic(*traffic) if traffic is not None else updated

    deployments.update_service(deployment_id, service, change)
