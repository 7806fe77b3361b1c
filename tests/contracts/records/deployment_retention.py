"""The DeploymentRetention contract: the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controlplane.adapters.storage import deployment_summaries as summaries
from controlplane.adapters.storage import deployments as layout
from controlplane.adapters.storage.documents import DocumentTables, KeyRange
from controlplane.adapters.storage.stores import Stores
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.deployment_summary import DeploymentQuery
from tests.builders import COMPLETED_PATH, ROLLING_OUT_PATH, T0, deployment, walked
from tests.contracts.records.deployment_pages import page_of

DAY = timedelta(days=1)
HORIZON = T0 - 30 * DAY
FAILED_PATH = (DeploymentState.FAILED,)
ROLLED_BACK_PATH = (*ROLLING_OUT_PATH, DeploymentState.ROLLING_BACK, DeploymentState.ROLLED_BACK)


def _stored(
    stores: Stores, deployment_id: str, days_ago: int, path: tuple[DeploymentState, ...], *services: str
) -> None:
    requested = deployment(deployment_id, services=services or ("orders",), at=T0 - days_ago * DAY)
    stores.deployments.create_deployment(walked(requested, path))


def _listed(stores: Stores, service: str | None = None) -> list[str]:
    page = page_of(stores.deployments, DeploymentQuery(service=service, limit=100))
    return sorted(summary["id"] for summary in page.deployments)


class DeploymentRetentionContract:
    """Subclasses provide ``tables`` (the record tables created, empty) and ``stores`` over them."""

    @pytest.fixture
    def history(self, stores: Stores, tables: DocumentTables) -> Stores:
        """orders: c1..c4 Completed 100..97 days ago, f1 Failed and b1 RolledBack in between, r1 still rolling out
        (95 days), n1 Completed yesterday; payments: p1 Completed 100 days ago, its only one; m1 Completed 101
        days ago deployed both. Each keeps its services' progress rows in its partition."""
        _stored(stores, "m1", 101, COMPLETED_PATH, "orders", "payments")
        _stored(stores, "c1", 100, COMPLETED_PATH)
        _stored(stores, "p1", 100, COMPLETED_PATH, "payments")
        _stored(stores, "c2", 99, COMPLETED_PATH)
        _stored(stores, "f1", 99, FAILED_PATH)
        _stored(stores, "c3", 98, COMPLETED_PATH)
        _stored(stores, "b1", 98, ROLLED_BACK_PATH)
        _stored(stores, "c4", 97, COMPLETED_PATH)
        _stored(stores, "r1", 95, ROLLING_OUT_PATH)
        _stored(stores, "n1", 1, COMPLETED_PATH)
        return stores

    def test_expired_finished_deployments_go_with_their_partition_and_summaries(
        self, history: Stores, tables: DocumentTables
    ) -> None:
        deleted = history.deployment_retention.purge_deployments(HORIZON, {"c1"}, 100)

        # c1 is kept by name; c4 and n1 are orders' two newest Completed; r1 is unfinished; p1 and m1 are payments'.
        assert deleted == 4
        kept = ["c1", "c4", "m1", "n1", "p1", "r1"]
        assert _listed(history) == kept
        assert _listed(history, "orders") == ["c1", "c4", "m1", "n1", "r1"]
        assert sorted({d.partition for d in tables.scan(layout.TABLE, KeyRange())}) == kept
        assert sorted({d.row.split("|")[-1] for d in tables.scan(summaries.SERVICE_INDEX, KeyRange())}) == kept
        assert history.deployment_retention.purge_deployments(HORIZON, {"c1"}, 100) == 0

    def test_nothing_finished_after_the_horizon_goes(self, history: Stores) -> None:
        assert history.deployment_retention.purge_deployments(T0 - 200 * DAY, (), 100) == 0
        assert len(_listed(history)) == 10

    def test_a_purge_stops_at_its_limit_and_the_next_goes_on(self, history: Stores) -> None:
        retention = history.deployment_retention
        assert [retention.purge_deployments(HORIZON, (), 2) for _ in range(4)] == [2, 2, 1, 0]
        assert _listed(history) == ["c4", "m1", "n1", "p1", "r1"]

    def test_a_deployment_whose_summaries_outlived_its_record_is_finished(
        self, history: Stores, tables: DocumentTables
    ) -> None:
        """A crash between the record's delete and its summaries' leaves summaries the next purge removes."""
        tables.delete(layout.TABLE, "c3", layout.ROW)
        assert history.deployment_retention.purge_deployments(HORIZON, {"c1"}, 100) == 4
        assert "c3" not in _listed(history) + _listed(history, "orders")
