"""A drift run over more approved findings than one execution takes: batches, continue-as-new, crash safety.

The drift orchestration runs through the engine's real replay (tests/workflow_world.py) with a batch of 2
(``CONTROLPLANE_DRIFT_MAX_REMEDIATIONS_PER_RUN``), so 5 approved findings take three executions of one run.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import azure.durable_functions as df
import pytest

from controlplane.bootstrap import ports, use_ports
from controlplane.config import InvalidSettings, Settings
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.findings import FindingStatus
from controlplane.domain.manifest import parse_release
from controlplane.errors import ConcurrencyConflict
from controlplane.services.drift.batches import approved_batch, start_remediations
from funchost.durable.history import RuntimeStatus
from orchestrators.drift import DRIFT_ORCHESTRATOR, INSTANCE_ID
from tests.builders import release_document
from tests.unit.test_drift_loop import SOURCE, scan
from tests.workflow_world import FAST_GATE, World
from triggers.singleton import start_singleton

BATCH = 2


@pytest.fixture
def batched(world: World) -> World:
    wired = ports()
    use_ports(replace(wired, settings=replace(wired.settings, drift_max_remediations_per_run=BATCH)))
    return world


def drifted(world: World, count: int, gate_seconds: int = 1) -> list[str]:
    """``count`` services live with an image changed by hand (nonprod: approved on detection); their names."""
    names = tuple(f"svc-{n}" for n in range(count))
    document = release_document(services=names)
    document["spec"]["healthGate"] = {**FAST_GATE, "intervalSeconds": gate_seconds}
    desired = parse_release(document)
    world.seed_completed(desired)
    world.desired.set_releases([desired])
    for name in names:
        revision = world.store.catalog.get_catalog_entry("dev", name).revision
        world.compute.set_image("dev", name, revision, f"example.azurecr.io/{name}:6.6.6")
    return list(names)


def corrective(world: World, traceid: str) -> list[Deployment]:
    return [d for d in world.store.deployments.list_deployments() if d.traceid == traceid]


def test_a_run_over_more_findings_than_a_batch_continues_as_new_and_remediates_them_all(batched: World) -> None:
    world = batched
    drifted(world, 5)

    world.engine.start_new(DRIFT_ORCHESTRATOR, INSTANCE_ID, None)
    record = world.engine.wait(INSTANCE_ID, timeout=120)

    assert record.status is RuntimeStatus.COMPLETED, record.output
    output = json.loads(record.output)
    assert output["generation"] == 3  # batches of 2, 2 and 1, each an execution of its own
    assert output["run"] == {"approved": 5, "outcomes": {"Remediated": 5}}
    assert len(output["approved"]) == 1 and output["outcomes"] == {output["approved"][0]: "Remediated"}
    assert json.loads(record.custom_status) == {
        "step": "done",
        "generation": 3,
        "approved": 5,
        "outcomes": {"Remediated": 5},
    }
    findings = world.store.findings.list_findings()
    assert len(findings) == 5 and all(f.status is FindingStatus.REMEDIATED for f in findings)
    for finding in findings:
        [deployment] = corrective(world, finding.traceid)
        assert deployment.state is DeploymentState.COMPLETED and deployment.id == finding.deployment_id


def test_a_restart_between_batches_starts_no_remedy_twice(batched: World) -> None:
    world = batched
    drifted(world, 4, gate_seconds=2)  # a slower gate: the second batch is still remediating when the host dies
    world.engine.start_new(DRIFT_ORCHESTRATOR, INSTANCE_ID, None)
    world.wait_for_custom_status(INSTANCE_ID, '"generation": 2', timeout=60)
    world.engine.stop()  # the host dies in the run's second execution

    world.engine = world.start_engine()
    record = world.engine.wait(INSTANCE_ID, timeout=120)

    assert record.status is RuntimeStatus.COMPLETED, record.output
    assert json.loads(record.output)["run"] == {"approved": 4, "outcomes": {"Remediated": 4}}
    findings = world.store.findings.list_findings()
    assert len(findings) == 4 and all(f.status is FindingStatus.REMEDIATED for f in findings)
    for finding in findings:
        assert len(corrective(world, finding.traceid)) == 1  # one corrective deployment per finding, ever
        types = [e.type for e in world.store.event_log.events_for_trace(finding.traceid)]
        assert types.count("RuntimeDeploymentRequested") == types.count("RuntimeDeploymentCompleted") == 1
        assert types.count("RuntimeDriftRemediated") == 1


def test_the_batched_start_run_again_answers_the_same_deployments_and_records_none_new(batched: World) -> None:
    world = batched
    drifted(world, 3)
    scan(world)
    batch = approved_batch(world.store.findings, BATCH)
    assert len(batch.finding_ids) == BATCH and batch.next is not None

    def start() -> dict[str, Any]:
        store = world.store
        started = start_remediations(
            store.findings, store.deployments, store.claims, store.event_log, world.bus, SOURCE, world.desired,
            world.compute, batch.finding_ids, datetime.now(UTC),
        )  # fmt: skip
        return {fid: s.to_dict() for fid, s in started.items()}

    first = start()
    deployments = len(world.store.deployments.list_deployments())
    again = start()  # the activity run again: its result was lost in a crash

    assert again == first and set(first) == set(batch.finding_ids)
    assert len(world.store.deployments.list_deployments()) == deployments
    following = approved_batch(world.store.findings, BATCH, batch.next)
    assert len(following.finding_ids) == 1 and following.next is None  # the third finding, and no more


def test_a_finding_whose_start_fails_transiently_waits_for_the_next_run_and_the_others_start(
    batched: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = batched
    drifted(world, 2)
    scan(world)
    first, second = approved_batch(world.store.findings, BATCH).finding_ids
    saving = world.store.findings.save_finding

    def conflicting(finding: Any) -> Any:
        if finding.id == first and finding.status is FindingStatus.REMEDIATING:
            raise ConcurrencyConflict(f"finding {first} changed meanwhile")
        return saving(finding)

    monkeypatch.setattr(world.store.findings, "save_finding", conflicting)
    store = world.store
    started = start_remediations(
        store.findings, store.deployments, store.claims, store.event_log, world.bus, SOURCE, world.desired,
        world.compute, (first, second), datetime.now(UTC),
    )  # fmt: skip

    assert list(started) == [second]
    assert world.store.findings.get_finding(first).status is FindingStatus.APPROVED  # the next run takes it again


class StatusOnlyClient:
    """A Durable client whose instance is between two executions (ContinuedAsNew); records starts."""

    def __init__(self, status: df.OrchestrationRuntimeStatus) -> None:
        self.status = status
        self.started: list[str] = []

    async def get_status(self, instance_id: str, **_: Any) -> Any:
        return SimpleNamespace(runtime_status=self.status, instance_id=instance_id)

    async def start_new(self, orchestrator: str, instance_id: str | None = None, data: Any = None) -> str:
        self.started.append(orchestrator)
        return instance_id or ""


def test_a_run_that_continues_as_new_is_in_flight_for_the_timer() -> None:
    client = StatusOnlyClient(df.OrchestrationRuntimeStatus.ContinuedAsNew)
    assert asyncio.run(start_singleton(client, DRIFT_ORCHESTRATOR, INSTANCE_ID)) is False  # type: ignore[arg-type]
    assert client.started == []
    ended = StatusOnlyClient(df.OrchestrationRuntimeStatus.Completed)
    assert asyncio.run(start_singleton(ended, DRIFT_ORCHESTRATOR, INSTANCE_ID)) is True  # type: ignore[arg-type]


def test_the_batch_size_setting_has_a_default_and_refuses_zero() -> None:
    storage = {"CONTROLPLANE_STORAGE": "UseDevelopmentStorage=true"}
    assert Settings.from_environment(storage).drift_max_remediations_per_run == 50
    tuned = {**storage, "CONTROLPLANE_DRIFT_MAX_REMEDIATIONS_PER_RUN": "200"}
    assert Settings.from_environment(tuned).drift_max_remediations_per_run == 200
    for bad in ("0", "ten", "2.5"):
        with pytest.raises(InvalidSettings) as refused:
            Settings.from_environment({**storage, "CONTROLPLANE_DRIFT_MAX_REMEDIATIONS_PER_RUN": bad})
        assert [error.path for error in refused.value.errors] == ["CONTROLPLANE_DRIFT_MAX_REMEDIATIONS_PER_RUN"]
