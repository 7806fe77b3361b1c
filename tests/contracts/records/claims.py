"""The Claims contract (service claims): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.deployment import DeploymentState
from controlplane.ports import Claims, Deployments
from tests.builders import T0, deployment


class ClaimsContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def claims(self, stores: Stores) -> Claims:
        return stores.claims

    @pytest.fixture
    def deployments(self, stores: Stores) -> Deployments:
        return stores.deployments

    def test_one_deployment_at_a_time_claims_a_service(self, claims: Claims, deployments: Deployments) -> None:
        """Claims are made by deployments already stored (a holder that is gone counts as finished)."""
        for deployment_id in ("d1", "d2", "d3", "d4"):
            deployments.create_deployment(deployment(deployment_id, services=("orders", "payments")))
        assert claims.claim_services("dev", ["orders", "payments"], "d1") is None
        assert claims.claim_services("dev", ["orders", "payments"], "d1") is None  # idempotent for its holder
        assert claims.claim_services("dev", ["payments", "billing"], "d2") == "d1"
        assert claims.claim_services("dev", ["billing"], "d3") is None, "a refused claim takes nothing"
        assert claims.claim_services("prod", ["orders"], "d4") is None, "environments are separate"

    def test_a_finished_deployment_gives_way_and_a_release_frees_the_service(
        self, claims: Claims, deployments: Deployments
    ) -> None:
        finished = deployment("d1").advance(DeploymentState.PROVISIONING, T0).advance(DeploymentState.FAILED, T0)
        deployments.create_deployment(finished)
        deployments.create_deployment(deployment("d2"))
        deployments.create_deployment(deployment("d3"))
        claims.claim_services("dev", ["orders"], "d1")
        assert claims.claim_services("dev", ["orders"], "d2") is None
        claims.release_services("dev", ["orders"], "d1")
        assert claims.claim_services("dev", ["orders"], "d3") == "d2", "releasing someone else's claim does nothing"
        claims.release_services("dev", ["orders"], "d2")
        assert claims.claim_services("dev", ["orders"], "d3") is None

    def test_concurrent_claims_let_exactly_one_deployment_in(self, claims: Claims, deployments: Deployments) -> None:
        for n in range(8):
            deployments.create_deployment(deployment(f"d{n}"))
        with ThreadPoolExecutor(max_workers=4) as pool:
            holders = list(pool.map(lambda n: claims.claim_services("dev", ["orders"], f"d{n}"), range(8)))
        assert holders.count(None) == 1
