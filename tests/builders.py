"""Builders of valid domain objects for tests; override only what a test is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.domain.catalog import CatalogEntry, LoopView
from controlplane.domain.deployment import Deployment, DeploymentState, ServicePhase, ServiceProgress
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope, TraceContext, new_event
from controlplane.domain.findings import DriftFinding, FindingStatus, Remedy
from controlplane.domain.manifest import Release, parse_release

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def release_document(
    environment: str = "dev", services: tuple[str, ...] = ("orders",), tag: str = "1.0.0"
) -> dict[str, Any]:
    return {
        "apiVersion": "controlplane.azure/v1",
        "kind": "Release",
        "metadata": {"name": f"{environment}-{tag.replace('.', '-')}"},
        "spec": {
            "environment": {"name": environment, "tier": "nonprod", "compute": "local"},
            "strategy": {"type": "RollingHealthGated", "maxSurge": 1, "maxUnavailable": 0},
            "services": [
                {"name": name, "image": f"example.azurecr.io/{name}:{tag}", "replicas": 2} for name in services
            ],
        },
    }


def release(environment: str = "dev", services: tuple[str, ...] = ("orders",), tag: str = "1.0.0") -> Release:
    return parse_release(release_document(environment, services, tag))


def deployment(
    deployment_id: str = "dep-1",
    environment: str = "dev",
    services: tuple[str, ...] = ("orders",),
    at: datetime = T0,
) -> Deployment:
    return Deployment.request(deployment_id, release(environment, services), "4bf92f3577b34da6a3ce929d0e0e4736", at)


ROLLING_OUT_PATH = (DeploymentState.PROVISIONING, DeploymentState.CONFIGURING, DeploymentState.ROLLING_OUT)
COMPLETED_PATH = (
    *ROLLING_OUT_PATH,
    DeploymentState.HEALTH_GATING,
    DeploymentState.PROMOTING,
    DeploymentState.COMPLETED,
)


def walked(requested: Deployment, path: tuple[DeploymentState, ...]) -> Deployment:
    """``requested`` advanced along ``path``, every step at the time it was requested."""
    for state in path:
        requested = requested.advance(state, requested.created_at)
    return requested


def completed(requested: Deployment, revisions: dict[str, str]) -> Deployment:
    """``requested`` walked to Completed, each service promoted to its revision in ``revisions``, as the
    deployment orchestrator leaves it."""
    done = walked(requested, COMPLETED_PATH)
    for service, revision in revisions.items():
        done = done.with_service(service, ServiceProgress(ServicePhase.PROMOTED, revision, 100, "promoted"))
    return done


def promoted(deployment: Deployment, service: str, revision: str) -> CatalogEntry:
    """The catalog entry a Completed ``deployment`` writes for ``service`` (its promoted ``revision``)."""
    spec = deployment.release.service(service)
    return CatalogEntry(
        deployment.environment,
        service,
        deployment.id,
        revision,
        spec.image,
        spec.replicas,
        spec.config_hash(),
        deployment.updated_at,
        LoopView.of(deployment.release, service),
    )


def catalog_entry(environment: str = "dev", service: str = "orders", revision: str = "orders-r1") -> CatalogEntry:
    return CatalogEntry(environment, service, "dep-1", revision, f"example.azurecr.io/{service}:1.0.0", 2, "c0ffee", T0)


def finding(finding_id: str = "f-1", status: FindingStatus = FindingStatus.OPEN, age: int = 0) -> DriftFinding:
    seen = T0 + timedelta(minutes=age)
    return DriftFinding(
        finding_id,
        "dev",
        "orders",
        Remedy.AUTO,
        {
            "/image": {
                "desired": "example.azurecr.io/orders:1.0.0",
                "actual": "example.azurecr.io/orders:9.9.9",
            }
        },
        status,
        seen,
        seen,
    )


def trace_event(event_id: str, seconds: int = 0, traceid: str = "4bf92f3577b34da6a3ce929d0e0e4736") -> Envelope:
    return new_event(
        EventType.RUNTIME_DEPLOYMENT_FAILED,
        event_id=event_id,
        source="/tests",
        time=T0 + timedelta(seconds=seconds),
        trace=TraceContext(traceid, "dep-1"),
        data={"deploymentId": "dep-1", "reason": "test"},
    )
