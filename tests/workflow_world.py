"""A world for workflow tests: the durable engine running function_app, with in-memory fakes behind every port."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controlplane.adapters.local.provisioner import LocalProvisioner
from controlplane.adapters.storage.state_store import DocumentStateStore
from controlplane.bootstrap.root import Services, use_services
from controlplane.config import Settings
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.manifest import Release, parse_release
from controlplane.services import deployments
from controlplane.testing.fakes import RecordingEventBus, ScriptedHealthProbe, ScriptedMetrics
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_desired_state import MemoryDesiredState
from controlplane.testing.memory_documents import MemoryDocumentTables
from funchost.durable.engine import DurableEngine
from funchost.durable.history import RuntimeStatus
from funchost.durable.store import DurableStore
from funchost.storage.memory_tables import MemoryTables
from tests import product_app
from tests.builders import release_document

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
        ports = (self.compute, self.health, LocalProvisioner(tmp), self.desired, self.metrics)
        use_services(Services(settings, self.store, self.bus, *ports))
        self.history = MemoryTables()
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


