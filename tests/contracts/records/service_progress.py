"""The Deployments contract for each service's progress (``update_service``): written alone, concurrently with
other services' and with transitions, and read from deployments stored before progress had rows of its own. The
Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest

from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.adapters.storage.stores import Stores
from controlplane.domain.deployment import Deployment, DeploymentState, ServicePhase, ServiceProgress
from controlplane.domain.deployment_summary import DeploymentQuery
from controlplane.domain.events import format_time
from controlplane.errors import ConcurrencyConflict, NotFound
from controlplane.ports import Deployments
from tests.builders import ROLLING_OUT_PATH, T0, deployment, walked
from tests.contracts.records.deployment_pages import page_of

ROUNDS = 8


def _appended(step: int) -> Callable[[ServiceProgress], ServiceProgress]:
    """A change that appends ``step`` to the message and takes ``step`` percent: a lost write shows as a gap."""

    def change(progress: ServiceProgress) -> ServiceProgress:
        return replace(progress, phase=ServicePhase.ROLLING_OUT, message=progress.message + f"{step},").with_traffic(
            step, T0 + timedelta(seconds=step)
        )

    return change


EVERY_STEP = "".join(f"{step}," for step in range(1, ROUNDS + 1))


def _legacy(tables: DocumentTables, stored: Deployment) -> None:
    """``stored`` as deployments were stored before progress had rows: one document, the progress inside."""
    columns = {
        "environment": stored.environment,
        "state": stored.state.value,
        "createdAt": format_time(stored.created_at),
    }
    tables.insert("Deployments", Document(stored.id, "deployment", stored.to_dict(), columns))


class ServiceProgressContract:
    """Subclasses provide ``tables`` (empty, with the stores' tables created) and ``stores`` over them."""

    @pytest.fixture
    def deployments(self, stores: Stores) -> Deployments:
        return stores.deployments

    def test_a_services_progress_reads_back_and_an_unchanged_one_writes_nothing(self, deployments: Deployments) -> None:
        created = deployments.create_deployment(deployment(services=("orders", "payments")))
        written = deployments.update_service("dep-1", "orders", _appended(5))
        read = deployments.get_deployment("dep-1")
        assert read.services["orders"] == written and written.traffic_percent == 5 and written.message == "5,"
        assert read.services["payments"] == created.services["payments"]
        assert deployments.update_service("dep-1", "orders", lambda progress: progress) == written
        assert deployments.get_deployment("dep-1").etag == read.etag

    def test_an_unknown_deployment_or_service_is_not_found(self, deployments: Deployments) -> None:
        deployments.create_deployment(deployment())
        with pytest.raises(NotFound):
            deployments.update_service("nope", "orders", lambda progress: progress)
        with pytest.raises(NotFound):
            deployments.update_service("dep-1", "billing", lambda progress: progress)

    def test_services_written_concurrently_keep_every_write(self, deployments: Deployments) -> None:
        services = ("orders", "payments", "billing")
        deployments.create_deployment(deployment(services=services))

        def write(service: str) -> None:
            for step in range(1, ROUNDS + 1):
                deployments.update_service("dep-1", service, _appended(step))

        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            list(pool.map(write, services))
        final = deployments.get_deployment("dep-1")
        assert {name: final.services[name].message for name in services} == dict.fromkeys(services, EVERY_STEP)
        assert [point.percent for point in final.services["orders"].traffic_history] == list(range(1, ROUNDS + 1))
        for query in (DeploymentQuery(), DeploymentQuery(service="payments")):
            [summary] = page_of(deployments, query).deployments
            assert {name: shown["trafficPercent"] for name, shown in summary["services"].items()} == dict.fromkeys(
                services, ROUNDS
            )

    def test_progress_written_while_the_deployment_moves_loses_neither(self, deployments: Deployments) -> None:
        deployments.create_deployment(deployment(services=("orders", "payments")))
        path = (*ROLLING_OUT_PATH, DeploymentState.HEALTH_GATING, DeploymentState.PROMOTING)

        def progress() -> None:
            for step in range(1, ROUNDS + 1):
                deployments.update_service("dep-1", "orders", _appended(step))

        def transitions() -> None:
            for number, state in enumerate(path):
                deployments.update_deployment("dep-1", lambda d, s=state, n=number: d.advance(s, T0, f"step {n}"))

        with ThreadPoolExecutor(max_workers=2) as pool:
            for done in [pool.submit(progress), pool.submit(transitions)]:
                done.result()
        final = deployments.get_deployment("dep-1")
        assert [transition.target for transition in final.transitions[1:]] == list(path)
        assert final.services["orders"].message == EVERY_STEP
        [summary] = page_of(deployments, DeploymentQuery(state=DeploymentState.PROMOTING)).deployments
        assert summary["services"]["orders"]["trafficPercent"] == ROUNDS

    def test_a_save_keeps_progress_written_since_its_read_unless_it_changed_that_too(
        self, deployments: Deployments
    ) -> None:
        deployments.create_deployment(deployment(services=("orders", "payments")))
        read = deployments.get_deployment("dep-1")
        written = deployments.update_service("dep-1", "orders", _appended(1))
        saved = deployments.save_deployment(read.advance(DeploymentState.PROVISIONING, T0))
        assert deployments.get_deployment("dep-1").services["orders"] == written
        assert saved.state is DeploymentState.PROVISIONING
        stale = deployments.get_deployment("dep-1")
        deployments.update_service("dep-1", "orders", _appended(2))
        with pytest.raises(ConcurrencyConflict):
            deployments.save_deployment(stale.with_service("orders", ServiceProgress(message="stale")))
        assert deployments.get_deployment("dep-1").services["orders"].message == "1,2,"

    def test_a_deployment_stored_before_progress_rows_reads_and_writes_as_any(
        self, tables: DocumentTables, deployments: Deployments
    ) -> None:
        old = walked(deployment(services=("orders", "payments")), ROLLING_OUT_PATH)
        old = old.with_service("orders", ServiceProgress(ServicePhase.ROLLING_OUT, "orders-v2", 20, "traffic=20"))
        old = old.with_service("payments", ServiceProgress(ServicePhase.GATING, "payments-v2", 0, "gating"))
        _legacy(tables, old)
        assert deployments.get_deployment("dep-1") == old
        assert [d.id for d in deployments.list_deployments(environment="dev", service="payments")] == ["dep-1"]
        moved = deployments.update_service("dep-1", "orders", _appended(50))
        assert moved.message == "traffic=2050," and moved.traffic_history[-1].percent == 50
        promoting = deployments.update_deployment("dep-1", lambda d: d.advance(DeploymentState.HEALTH_GATING, T0))
        assert promoting.services == {"orders": moved, "payments": old.services["payments"]}
        deployments.update_service("dep-1", "payments", lambda progress: replace(progress, message="passed"))
        final = deployments.get_deployment("dep-1")
        assert final.state is DeploymentState.HEALTH_GATING
        assert final.services == {"orders": moved, "payments": replace(old.services["payments"], message="passed")}
        [summary] = page_of(deployments, DeploymentQuery(service="orders")).deployments
        assert summary["services"]["payments"]["message"] == "passed"
