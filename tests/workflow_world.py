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
from controlplane.adapters.storage.state_store import DocumentStateStore
from controlplane.bootstrap.root import Services, use_services
from controlplane.config import Settings
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.manifest import Release, parse_release
from controlplane.errors import NotFound
from controlplane.services import deployments
from controlplane.services.rollout import revision_name, revision_spec
from controlplane.testing.fakes import RecordingEventBus, ScriptedHealthProbe, ScriptedMetrics
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_desired_state import MemoryDesiredState
from controlplane.testing.memory_documents import MemoryDocumentTables
from funchost.durable.engine import DurableEngine
from funchost.durable.history import RuntimeStatus
from funchost.durable.store import DurableStore
from tests import product_app
from tests.builders import ROLLING_OUT_PATH, completed, promoted, release_document, walked

FAST_GATE = {"intervalSeconds": 1, "successThreshold": 1, "failureThreshold": 1}


class World:
    """The engine running function_app with fakes behind every port."""

    def __init__(self, tmp: Path) -> None:
        self.store = DocumentStateStore(MemoryDocumentTables())
        self.store.create_tables()
        self.compute = MemoryCompute()
        self.health = ScriptedHealthProbe()
        self.bus = RecordingEventBus()
        self.desired = MemoryDesiredState()
        self.metrics = ScriptedMetrics()
        settings = Settings.from_environment({"CONTROLPLANE_STORAGE": "UseDevelopmentStorage=true"})
        self.provisioner = LocalProvisioner(tmp)
        ports = (self.compute, self.health, self.provisioner, self.desired, self.metrics)
        use_services(Services(settings, self.store, self.bus, *ports))
        self.history = MemoryDocumentTables()
        self.engine = self.start_engine()

    def start_engine(self) -> DurableEngine:
        """A (new) engine over this world's durable history: a restart of the host, as far as orchestrations go."""
        engine = DurableEngine(product_app.index(), DurableStore(self.history, "Workflow"))
        engine.start()
        return engine

    def deploy(self, release: Release) -> str:
        accepted = deployments.accept(self.store, release, datetime.now(UTC))
        start = deployments.orchestration_input(accepted.deployment)
        self.engine.start_new("deployment", accepted.deployment.id, json.dumps(start))
        return accepted.deployment.id

    def seed_completed(self, release: Release) -> Deployment:
        """What a Completed deployment of ``release`` leaves behind, without running one: its environment
        provisioned, its record, each service's new revision live with all the traffic (the one it replaced
        scaled to zero, as every strategy ends) and promoted in the service catalog. No events."""
        at = datetime.now(UTC)
        requested = Deployment.request(deployments.new_deployment_id(), release, uuid.uuid4().hex, at)
        revisions = {service.name: revision_name(service.name, requested.id) for service in release.spec.services}
        done = self.store.create_deployment(completed(requested, revisions))
        self.provisioner.ensure_environment(release)
        for service, revision in revisions.items():
            self.compute.deploy_revision(revision_spec(done, service, revision, release.service(service).replicas))
            self.compute.set_traffic(done.environment, service, {revision: 100})
            try:
                stable = self.store.get_catalog_entry(done.environment, service)
                self.compute.scale(done.environment, service, stable.revision, 0)
            except NotFound:
                pass  # the service's first deployment
            self.store.put_catalog_entry(promoted(done, service, revision))
        return done

    def seed_in_flight(self, release: Release, new_percent: int) -> Deployment:
        """A deployment of ``release`` paused mid-rollout, without running one: accepted (its services
        claimed), RollingOut, each service's new revision live with ``new_percent`` of the traffic."""
        accepted = deployments.accept(self.store, release, datetime.now(UTC)).deployment
        rolling = self.store.update_deployment(accepted.id, lambda requested: walked(requested, ROLLING_OUT_PATH))
        for service in release.spec.services:
            stable = self.store.get_catalog_entry(rolling.environment, service.name).revision
            revision = revision_name(service.name, rolling.id)
            self.compute.deploy_revision(revision_spec(rolling, service.name, revision, 1))
            weights = {revision: new_percent, stable: 100 - new_percent}
            self.compute.set_traffic(rolling.environment, service.name, weights)
        return rolling

    def finish(self, deployment_id: str) -> DeploymentState:
        record = self.engine.wait(deployment_id, timeout=30)
        assert record.status is RuntimeStatus.COMPLETED, record.output
        return self.store.get_deployment(deployment_id).state

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


