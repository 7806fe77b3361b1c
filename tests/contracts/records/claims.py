"""The Claims contract (service claims): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from controlplane.adapters.storage.claims import UNSTORED_GRACE
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
        for deployment_id in ("d1", "d2", "d3", "d4"):
            deployments.create_deployment(deployment(deployment_id, services=("orders", "payments")))
        assert claims.claim_services("dev", ["orders", "payments"], "d1", T0) is None
        assert claims.claim_services("dev", ["orders", "payments"], "d1", T0) is None  # idempotent for its holder
        assert claims.claim_services("dev", ["payments", "billing"], "d2", T0) == "d1"
        assert claims.claim_services("dev", ["billing"], "d3", T0) is None, "a refused claim takes nothing"
        assert claims.claim_services("prod", ["orders"], "d4", T0) is None, "environments are separate"

    def test_a_finished_deployment_gives_way_and_a_release_frees_the_service(
        self, claims: Claims, deployments: Deployments
    ) -> None:
        finished = deployment("d1").advance(DeploymentState.PROVISIONING, T0).advance(DeploymentState.FAILED, T0)
        deployments.create_deployment(finished)
        deployments.create_deployment(deployment("d2"))
        deployments.create_deployment(deployment("d3"))
        claims.claim_services("dev", ["orders"], "d1", T0)
        assert claims.claim_services("dev", ["orders"], "d2", T0) is None
        claims.release_services("dev", ["orders"], "d1")
        assert claims.claim_services("dev", ["orders"], "d3", T0) == "d2", "releasing someone else's claim does nothing"
        claims.release_services("dev", ["orders"], "d2")
        assert claims.claim_services("dev", ["orders"], "d3", T0) is None

    def test_concurrent_claims_let_exactly_one_deployment_in(self, claims: Claims, deployments: Deployments) -> None:
        for n in range(8):
            deployments.create_deployment(deployment(f"d{n}"))
        with ThreadPoolExecutor(max_workers=4) as pool:
            holders = list(pool.map(lambda n: claims.claim_services("dev", ["orders"], f"d{n}", T0), range(8)))
        assert holders.count(None) == 1

    def test_a_claim_of_a_deployment_not_yet_stored_holds_until_its_grace_is_over(
        self, claims: Claims, deployments: Deployments
    ) -> None:
        """accept claims before it stores the deployment: a fresh claim by an unstored holder is being accepted
        right now; an old one was left by a crashed accept and gives way."""
        deployments.create_deployment(deployment("d2"))
        assert claims.claim_services("dev", ["orders"], "unstored", T0) is None
        assert claims.claim_services("dev", ["orders"], "d2", T0 + UNSTORED_GRACE) == "unstored"
        assert claims.claim_services("dev", ["orders"], "unstored", T0 + UNSTORED_GRACE) is None, "still its own"
        assert claims.claim_services("dev", ["orders"], "d2", T0 + 2 * UNSTORED_GRACE + timedelta(seconds=1)) is None

    def test_the_holder_is_the_unfinished_deployment_that_claimed_the_service(
        self, claims: Claims, deployments: Deployments
    ) -> None:
        deployments.create_deployment(deployment("d1"))
        assert claims.holder("dev", "orders", T0) is None, "never claimed"
        claims.claim_services("dev", ["orders"], "d1", T0)
        assert claims.holder("dev", "orders", T0) == "d1"
        assert claims.holder("prod", "orders", T0) is None, "environments are separate"
        deployments.update_deployment(
            "d1", lambda held: held.advance(DeploymentState.PROVISIONING, T0).advance(DeploymentState.FAILED, T0)
        )
        assert claims.holder("dev", "orders", T0) is None, "a finished holder holds nothing, released or not"
        claims.release_services("dev", ["orders"], "d1")
        assert claims.holder("dev", "orders", T0) is None

    def test_the_services_in_flight_are_read_at_once_as_holder_reads_them_one_by_one(
        self, claims: Claims, deployments: Deployments
    ) -> None:
        deployments.create_deployment(deployment("d1", services=("orders", "billing")))
        finished = deployment("d2").advance(DeploymentState.PROVISIONING, T0).advance(DeploymentState.FAILED, T0)
        deployments.create_deployment(finished)
        assert claims.claim_services("dev", ["orders", "billing"], "d1", T0) is None
        assert claims.claim_services("prod", ["orders"], "d2", T0) is None
        assert claims.claim_services("qa", ["orders"], "unstored", T0) is None
        assert claims.in_flight(T0) == {"dev/billing": "d1", "dev/orders": "d1", "qa/orders": "unstored"}
        assert claims.in_flight(T0, "prod") == {}
        assert claims.in_flight(T0 + UNSTORED_GRACE + timedelta(seconds=1), "qa") == {}
        for key, holder in claims.in_flight(T0).items():
            environment, service = key.split("/")
            assert claims.holder(environment, service, T0) == holder

    def test_a_holder_not_yet_stored_holds_for_its_grace_period(self, claims: Claims) -> None:
        claims.claim_services("dev", ["orders"], "unstored", T0)
        assert claims.holder("dev", "orders", T0 + UNSTORED_GRACE) == "unstored"
        assert claims.holder("dev", "orders", T0 + UNSTORED_GRACE + timedelta(seconds=1)) is None
