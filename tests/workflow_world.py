"""A world for workflow tests: the durable engine running function_app, with in-memory fakes behind every port."""

from __future__ import annotations

import copy
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controlplane.adapters.local.provisioner import LocalProvisioner
from controlplane.bootstrap import use_ports
from controlplane.bootstrap.testing import fake_ports
from controlplane.domain.deployment import Deployment, DeploymentState, Origin, ServicePhase, ServiceProgress
from controlplane.domain.manifest import Release, parse_release
from controlplane.domain.rollout.target import revision_name
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.errors import NotFound
from controlplane.services import deployments
from controlplane.services.rollout import revision_spec
from controlplane.testing.fakes import RecordingEventBus, ScriptedHealthProbe, ScriptedMetrics
from controlplane.testing.hooks import ScriptedHooks
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_desired_state import MemoryDesiredState
from controlplane.testing.memory_documents import memory_stores
from funchost.durable.engine import DurableEngine
from funchost.durable.history import RuntimeStatus
from funchost.durable.store import DurableStore
from funchost.storage.memory_tables import MemoryTables
from orchestrators.deployment import DEPLOYMENT_ORCHESTRATOR
from tests import product_app
from tests.builders import ROLLING_OUT_PATH, completed, promoted, release_document, walked

FAST_GATE = {"intervalSeconds": 1, "successThreshold": 1, "failureThreshold": 1}


class World:
    """The engine running function_app with fakes behind every port."""

    def __init__(self, tmp: Path) -> None:
        self.store = memory_stores()
        self.compute = MemoryCompute()
        self.health = ScriptedHealthProbe()
        self.bus = RecordingEventBus()
        self.desired = MemoryDesiredState()
        self.metrics = ScriptedMetrics()
        self.hooks = ScriptedHooks()
        self.provisioner = LocalProvisioner(tmp)
        use_ports(
            fake_ports(
                store=self.store,
                events=self.bus,
                compute=self.compute,
                health=self.health,
                provisioner=self.provisioner,
                desired_state=self.desired,
                metrics=self.metrics,
                hooks=self.hooks,
            )
        )
        self.history = MemoryTables()
        self.engine = self.start_engine()

    def start_engine(self) -> DurableEngine:
        """A (new) engine over this world's durable history: a restart of the host, as far as orchestrations go."""
        engine = DurableEngine(product_app.index(), DurableStore(self.history, "Workflow"))
        engine.start()
        return engine

    def deploy(self, release: Release, origin: Origin | None = None) -> str:
        accepted = self.accept(release, origin)
        start = DeploymentStart.of(accepted.deployment).to_dict()
        self.engine.start_new(DEPLOYMENT_ORCHESTRATOR, accepted.deployment.id, json.dumps(start))
        return accepted.deployment.id

    def accept(self, release: Release, origin: Origin | None = None) -> deployments.Accepted:
        """Accept ``release`` as the HTTP API does (its orchestration not started), from ``origin``."""
        store = self.store
        return deployments.accept(store.deployments, store.claims, release, datetime.now(UTC), None, None, origin)

    def seed_completed(self, release: Release) -> Deployment:
        """What a Completed deployment of ``release`` leaves behind, without running one: its environment
        provisioned, its record, each service's new revision live with all the traffic (the one it replaced
        scaled to zero, as every strategy ends) and promoted in the service catalog. No events."""
        at = datetime.now(UTC)
        requested = Deployment.request(deployments.new_deployment_id(), release, uuid.uuid4().hex, at)
        revisions = {service.name: revision_name(service.name, requested.id) for service in release.spec.services}
        done = self.store.deployments.create_deployment(completed(requested, revisions))
        self.provisioner.ensure_environment(release)
        for service, revision in revisions.items():
            self.compute.deploy_revision(revision_spec(done, service, revision, release.service(service).replicas))
            self.compute.set_traffic(done.environment, service, {revision: 100})
            try:
                stable = self.store.catalog.get_catalog_entry(done.environment, service)
                self.compute.scale(done.environment, service, stable.revision, 0)
            except NotFound:
                pass  # the service's first deployment
            self.store.catalog.put_catalog_entry(promoted(done, service, revision))
        return done

    def seed_in_flight(self, release: Release, new_percent: int) -> Deployment:
        """A deployment of ``release`` paused mid-rollout, without running one: accepted (its services
        claimed), RollingOut, each service's new revision live with ``new_percent`` of the traffic and its
        progress recorded as the rollout's steps record it."""
        accepted = self.accept(release).deployment
        rolling = self.store.deployments.update_deployment(
            accepted.id, lambda requested: walked(requested, ROLLING_OUT_PATH)
        )
        for service in release.spec.services:
            stable = self.store.catalog.get_catalog_entry(rolling.environment, service.name).revision
            revision = revision_name(service.name, rolling.id)
            self.compute.deploy_revision(revision_spec(rolling, service.name, revision, 1))
            weights = {revision: new_percent, stable: 100 - new_percent}
            self.compute.set_traffic(rolling.environment, service.name, weights)
            progress = ServiceProgress(ServicePhase.ROLLING_OUT, revision, new_percent, f"traffic={new_percent}")
            rolling = self.store.deployments.update_deployment(
                rolling.id, lambda current, name=service.name, step=progress: current.with_service(name, step)
            )
        return rolling

    def finish(self, deployment_id: str) -> DeploymentState:
        record = self.engine.wait(deployment_id, timeout=30)
        assert record.status is RuntimeStatus.COMPLETED, record.output
        return self.store.deployments.get_deployment(deployment_id).state

    def wait_for_custom_status(self, deployment_id: str, key: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while key not in (self.engine.get_record(deployment_id).custom_status or ""):
            assert time.monotonic() < deadline, f"{deployment_id} never reported {key}"
            time.sleep(0.02)


def release(tag: str, strategy: dict[str, Any] | None = None, **spec: Any) -> Release:
    document = copy.deepcopy(release_document(tag=tag))
    document["spec"]["healthGate"] = dict(FAST_GATE)
    if strategy:
        document["spec"]["strategy"] = strategy
    document["spec"].update(spec)
    return parse_release(document)
